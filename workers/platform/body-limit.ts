import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";

/** The most a JSON request body may carry: every JSON body of the API is a few hundred bytes to a few KiB. */
export const JSON_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * The body limit of a route that takes JSON, declared in its `middleware` list: a body over
 * 64 KiB is refused with 413 problem+json before it is read (by its `Content-Length`, or once a
 * streamed body passes the limit). Upload routes stream media and keep their own limits
 * (`workers/uploads/settings.ts`); they do not list this.
 *
 * @example
 * createRoute({ method: "post", path: "/v1/auth/signin", middleware: [jsonBodyLimit] as const, ... })
 */
export const jsonBodyLimit = jsonBodyLimitOf(JSON_BODY_LIMIT_BYTES);

/**
 * A JSON body limit of `maxBytes` (413 problem+json past it), for a route whose bodies are far
 * smaller than `jsonBodyLimit`'s 64 KiB (a player's QoE beacon).
 */
export function jsonBodyLimitOf(maxBytes: number) {
  const size = maxBytes % 1024 === 0 ? `${maxBytes / 1024} KiB` : `${maxBytes} bytes`;
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload-too-large", `The request body is larger than ${size}, the most this route accepts. Nothing was stored.`);
    },
  });
}
