import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "./app-env.ts";
import { ApiError, type FieldError } from "./errors.ts";

/** Turns zod issues into the contract's `errors: [{ path, message }]`. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join(".") || "(body)", message: issue.message }));
}

/**
 * A router for one service module. Validation failures become 400 problem+json with `errors`,
 * so no handler ever sees input its schema did not accept.
 *
 * @example
 * const users = createRouter();
 * registerSignup(users);
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, _c: Context<AppEnv>) => {
      if (!result.success) {
        const where = result.target === "json" ? "body" : result.target;
        throw new ApiError("validation", `Some fields of the ${where} are not valid; see errors.`, {
          errors: fieldErrors(result.error),
        });
      }
    },
  });
}
