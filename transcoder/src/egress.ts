/**
 * The transcoder's one way out: HTTP to the storage origin (the Worker's storage and callback
 * routes), nothing else. In production the container runs with the internet off
 * (`enableInternet = false`) and its one outbound route is the Worker's outbound handler for that
 * origin (durable-objects/transcoder-container.ts); a plain local process has no such wall, so the
 * transcoder builds the part of it that a process can:
 *
 * - every `fetch` of the process (storage, callbacks, the range proxy's windows) is refused before
 *   it connects unless its origin is one of `allowedOrigins` (`restrictEgress`);
 * - a task naming another origin for its storage or its callback is refused with 400 before
 *   anything runs (`originProblems`);
 * - ffmpeg reads only through the range proxy on 127.0.0.1, under `-protocol_whitelist http,tcp`
 *   and a list of single-file formats (media-input.ts), and the proxy forwards only to a task's
 *   storage origin.
 *
 * What a process cannot stop locally: ffmpeg or any child opening a socket of its own (it has no
 * reason to, and the allow-lists give it none), DNS lookups, and non-HTTP traffic. Those are the
 * container's, with the internet off.
 */

/** `http://localhost:8787`, `https://storage.example` → their origins; throws on a malformed one. */
export function parseOrigins(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const url = new URL(entry);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`${entry}: not an http(s) origin`);
      return url.origin;
    });
}

/** Why each of a task's URLs is refused (another origin than the storage one), or nothing. */
export function originProblems(allowedOrigins: readonly string[], urls: Record<string, string>): string[] {
  return Object.entries(urls).flatMap(([field, url]) => {
    const origin = URL.canParse(url) ? new URL(url).origin : url;
    return allowedOrigins.includes(origin) ? [] : [`${field}: ${origin} is not the storage origin this transcoder may reach`];
  });
}

/** Thrown by the guarded `fetch` for a URL outside the allowed origins. */
export class EgressRefused extends Error {
  readonly origin: string;
  constructor(origin: string) {
    super(`outbound request to ${origin} refused: this transcoder reaches only its storage origin`);
    this.name = "EgressRefused";
    this.origin = origin;
  }
}

/**
 * Replaces the process's `fetch` with one that refuses every origin but `allowedOrigins` (before
 * any connection is made). Returns the undo, for tests.
 */
export function restrictEgress(allowedOrigins: readonly string[]): () => void {
  const original = globalThis.fetch;
  const guarded: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const origin = URL.canParse(url) ? new URL(url).origin : url;
    if (!allowedOrigins.includes(origin)) return Promise.reject(new EgressRefused(origin));
    return original(input, init);
  };
  globalThis.fetch = guarded;
  return () => {
    if (globalThis.fetch === guarded) globalThis.fetch = original;
  };
}
