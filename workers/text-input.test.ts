import { beforeAll, describe, expect, it } from "vitest";
import { problemOf, signUpAdmin } from "./test/catalog.ts";
import { call, type SignedIn, signUp, strongPassword, uniqueEmail } from "./test/helpers.ts";
import { createVideo, tusHeaders } from "./test/uploads.ts";

/**
 * Every free-text field of the API, fed what Postgres refuses (U+0000 in `text`, SQLSTATE 22021)
 * and what has no UTF-8 encoding (an unpaired surrogate), and a control character it would store:
 * each is a 400 naming the field in `errors`, never a 500, and nothing is stored. The suite runs
 * against PGlite and, with TEST_DATABASE=postgresql, a real PostgreSQL: they differ on exactly
 * these inputs when a value does reach them.
 */

let viewer: SignedIn;
let admin: SignedIn;
let videoId: string;

beforeAll(async () => {
  viewer = await signUp();
  admin = await signUpAdmin();
  videoId = await createVideo(admin.accessToken);
});

const bad = {
  NUL: "\u0000",
  "an unpaired surrogate": "\ud800",
  "a control character": "\u001b",
};

interface Field {
  what: string;
  path: string;
  /** Sent as bytes (a URL, a header), not as JSON: an unpaired surrogate has no UTF-8 form to send. */
  bytes?: boolean;
  send: (value: string) => Promise<Response>;
}

const fields: Field[] = [
  {
    what: "sign-in email",
    path: "email",
    send: (value) => call("/v1/auth/signin", { method: "POST", json: { email: `a${value}b@example.com`, password: strongPassword } }),
  },
  {
    what: "sign-up email",
    path: "email",
    send: (value) =>
      call("/v1/auth/signup", { method: "POST", json: { email: `a${value}b@example.com`, password: strongPassword, name: "Ada" } }),
  },
  {
    what: "sign-up name",
    path: "name",
    send: (value) =>
      call("/v1/auth/signup", { method: "POST", json: { email: uniqueEmail(), password: strongPassword, name: `Ada${value}` } }),
  },
  {
    what: "subscription planId",
    path: "planId",
    send: (value) => call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId: value } }),
  },
  {
    what: "search q",
    path: "q",
    bytes: true,
    send: (value) => call(`/v1/search?q=${encodeURIComponent(`stranger${value}things`)}`, { token: viewer.accessToken }),
  },
  ...(["title", "summary"] as const).map((field) => ({
    what: `admin video ${field}`,
    path: field,
    send: (value: string) =>
      call("/v1/admin/videos", {
        method: "POST",
        token: admin.accessToken,
        json: { title: "T", summary: "S", genres: ["drama"], releaseYear: 2020, [field]: `x${value}y` },
      }),
  })),
  {
    what: "admin video cast",
    path: "cast.0",
    send: (value) =>
      call("/v1/admin/videos", {
        method: "POST",
        token: admin.accessToken,
        json: { title: "T", summary: "S", genres: ["drama"], releaseYear: 2020, cast: [`Ada${value}`] },
      }),
  },
  {
    what: "admin video genre",
    path: "genres.0",
    send: (value) =>
      call("/v1/admin/videos", {
        method: "POST",
        token: admin.accessToken,
        json: { title: "T", summary: "S", genres: [`drama${value}`], releaseYear: 2020 },
      }),
  },
  {
    what: "admin video update title",
    path: "title",
    send: (value) => call(`/v1/admin/videos/${videoId}`, { method: "PATCH", token: admin.accessToken, json: { title: `x${value}` } }),
  },
  {
    what: "tus Upload-Metadata value",
    path: "Upload-Metadata.filename",
    bytes: true,
    send: (value) =>
      call(`/v1/admin/videos/${videoId}/uploads`, {
        method: "POST",
        token: admin.accessToken,
        headers: {
          ...tusHeaders,
          "Upload-Length": "10",
          "Upload-Metadata": `filename ${btoa(String.fromCharCode(...new TextEncoder().encode(`clip${value}.mp4`)))}`,
        },
      }),
  },
];

describe("text that Postgres refuses or should never store", () => {
  it("is a 400 with errors naming the field, for every text field and every kind of bad character", async () => {
    const failures: string[] = [];
    for (const field of fields) {
      for (const [kind, value] of Object.entries(bad)) {
        if (field.bytes && kind === "an unpaired surrogate") continue;
        const response = await field.send(value);
        const body = response.status === 400 ? await problemOf(response) : { errors: [] };
        const named = (body.errors ?? []).some((error: { path: string }) => error.path === field.path);
        if (response.status !== 400 || !named)
          failures.push(`${field.what} with ${kind}: ${response.status} ${JSON.stringify(body.errors)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("stores nothing: the NUL sign-up made no account, and the video kept its title", async () => {
    const email = uniqueEmail("nul");
    const withNul = email.replace("@", "\u0000@");
    expect(
      (await call("/v1/auth/signup", { method: "POST", json: { email: withNul, password: strongPassword, name: "Ada" } })).status,
    ).toBe(400);
    expect((await call("/v1/auth/signin", { method: "POST", json: { email, password: strongPassword } })).status).toBe(401);
    const video = (await (await call(`/v1/admin/videos/${videoId}`, { token: admin.accessToken })).json()) as { video: { title: string } };
    expect(video.video.title).toBe("Upload test");
  });
});
