import { describe, expect, it } from "vitest";
import { POSTER_WIDTHS, posterSizes } from "../platform/media-layout.ts";
import { insertReadyVideos, setTitleInDatabaseOnly, withTestServices } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { POSTER_WIDTHS as TRANSCODER_POSTER_WIDTHS } from "../transcoding/contract.ts";
import { syncCatalogCache } from "./index.ts";

/** A listed video newer than any other test's, announced to the cache as the admin routes do. */
async function newestVideo(fields: { posterKey?: string } = {}) {
  const [video] = await insertReadyVideos(1, { genres: [], publishedAt: () => new Date(Date.now() + 60_000), ...fields });
  if (!video) throw new Error("no video");
  await withTestServices((services) => syncCatalogCache(services, { id: video.id, wasListed: false, now: video }));
  return video;
}

interface Preview {
  items: { id: string; title: string; posterUrl: string | null; posters: { width: number; url: string }[] }[];
}

describe("GET /v1/preview (the signed-out landing page)", () => {
  it("answers anyone, without a token, with the newest titles, publicly cacheable", async () => {
    const newest = await newestVideo();
    const response = await call("/v1/preview");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=60");
    const body = (await response.json()) as Preview;
    expect(body.items.length).toBeGreaterThan(0);
    expect(body.items.length).toBeLessThanOrEqual(12);
    expect(body.items.some((item) => item.id === newest.id)).toBe(true);
  });

  it("is served from KV once warm: a title changed in Postgres alone does not show (no query was made)", async () => {
    const video = await newestVideo();
    const warm = (await (await call("/v1/preview")).json()) as Preview;
    expect(warm.items.some((item) => item.id === video.id)).toBe(true);
    await setTitleInDatabaseOnly(video.id, "Changed behind the cache");
    const again = (await (await call("/v1/preview")).json()) as Preview;
    expect(again.items.find((item) => item.id === video.id)?.title).toBe(video.title);
  });

  it("lists every poster size the transcoder made, under the preview token, and none for a poster made before sizes", async () => {
    const old = await newestVideo({ posterKey: "hls/poster.jpg" });
    const sized = await newestVideo({ posterKey: "hls/poster-1280w.webp" });
    const { items } = (await (await call("/v1/preview")).json()) as Preview;
    const withSizes = items.find((item) => item.id === sized.id);
    expect(withSizes?.posters.map((poster) => poster.width)).toEqual([320, 640, 1280]);
    expect(withSizes?.posters[0]?.url).toMatch(new RegExp(`/media/${sized.id}/v2\\.[^/]+/hls/poster-320w\\.webp$`));
    expect(withSizes?.posterUrl).toMatch(/poster-1280w\.webp$/);
    expect(items.find((item) => item.id === old.id)?.posters).toEqual([]);
    // The title's own document carries the same set.
    const viewer = await signUp();
    const document = (await (await call(`/v1/videos/${sized.id}`, { token: viewer.accessToken })).json()) as {
      video: Preview["items"][number];
    };
    expect(document.video.posters.map((poster) => poster.width)).toEqual([320, 640, 1280]);
  });
});

describe("poster sizes: the catalog and the transcoder agree", () => {
  it("names the same widths on both sides of the wire, and reads a set back from its widest name", () => {
    expect([...POSTER_WIDTHS]).toEqual([...TRANSCODER_POSTER_WIDTHS]);
    expect(posterSizes("hls/poster-640w.jpg")).toEqual([
      { width: 320, path: "hls/poster-320w.jpg" },
      { width: 640, path: "hls/poster-640w.jpg" },
    ]);
    expect(posterSizes("hls/poster-250w.webp")).toEqual([{ width: 250, path: "hls/poster-250w.webp" }]);
    expect(posterSizes("hls/poster.jpg")).toEqual([]);
    // The finalize attempt's tag, as published: every size carries it.
    expect(posterSizes("videos/v/hls/finalize-a2-poster-640w.webp").map((size) => size.path)).toEqual([
      "videos/v/hls/finalize-a2-poster-320w.webp",
      "videos/v/hls/finalize-a2-poster-640w.webp",
    ]);
  });
});
