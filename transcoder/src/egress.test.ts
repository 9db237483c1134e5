import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressRefused, originProblems, parseOrigins, restrictEgress } from "./egress.ts";

/** Two real HTTP servers on this machine: the storage origin, and one elsewhere that must see nothing. */
let storage: Server;
let elsewhere: Server;
let storageOrigin: string;
let elsewhereOrigin: string;
let elsewhereConnections = 0;

const listen = async (server: Server) => {
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  storage = createServer((_request, response) => response.end("stored"));
  elsewhere = createServer((_request, response) => response.end("secret"));
  elsewhere.on("connection", () => elsewhereConnections++);
  storageOrigin = await listen(storage);
  elsewhereOrigin = await listen(elsewhere);
});

afterAll(async () => {
  await Promise.all([storage, elsewhere].map((server) => new Promise((done) => server.close(done))));
});

describe("the transcoder's egress", () => {
  it("reaches the storage origin and nothing else: another server is never even connected to", async () => {
    const undo = restrictEgress([storageOrigin]);
    try {
      expect(await (await fetch(`${storageOrigin}/internal/storage/x`)).text()).toBe("stored");
      await expect(fetch(`${elsewhereOrigin}/`)).rejects.toBeInstanceOf(EgressRefused);
      await expect(fetch(new Request(`${elsewhereOrigin}/latest/meta-data`))).rejects.toThrow(
        `outbound request to ${elsewhereOrigin} refused: this transcoder reaches only its storage origin`,
      );
      // Same host, another port: another origin.
      expect(elsewhereOrigin.startsWith("http://127.0.0.1:")).toBe(true);
    } finally {
      undo();
    }
    expect(elsewhereConnections).toBe(0);
    // Undone, the same request goes through: the refusal above was the guard's, not the network's.
    expect(await (await fetch(`${elsewhereOrigin}/`)).text()).toBe("secret");
    expect(elsewhereConnections).toBe(1);
  });

  it("names each task URL outside the storage origin, and reads the allowed list", () => {
    expect(parseOrigins(" http://localhost:8787/ , https://storage.example/x")).toEqual([
      "http://localhost:8787",
      "https://storage.example",
    ]);
    expect(() => parseOrigins("ftp://x")).toThrow("ftp://x: not an http(s) origin");
    expect(
      originProblems(["http://localhost:8787"], {
        "storage.baseUrl": "http://localhost:8787",
        callbackUrl: "http://169.254.169.254/internal/transcode/callback",
      }),
    ).toEqual(["callbackUrl: http://169.254.169.254 is not the storage origin this transcoder may reach"]);
  });
});
