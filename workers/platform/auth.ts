import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { users } from "../../schema/index.ts";
import type { AppEnv } from "./app-env.ts";
import { ApiError } from "./errors.ts";
import { InvalidTokenError, verifyAccessToken } from "./tokens.ts";

const bearer = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/;

/**
 * Requires a valid access token whose session is still live; sets `c.get("auth")`.
 * The revocation check asks the user's Durable Object, so a signed-out token dies everywhere at once.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("Authorization");
  if (!header) throw new ApiError("unauthorized", "Send an access token: Authorization: Bearer <token>.");
  const match = bearer.exec(header.trim());
  if (!match?.[1]) {
    throw new ApiError("unauthorized", "The Authorization header must be 'Bearer <access token>'.", {
      headers: { "WWW-Authenticate": 'Bearer realm="reelstream", error="invalid_request"' },
    });
  }
  const services = c.get("services");
  let auth: Awaited<ReturnType<typeof verifyAccessToken>>;
  try {
    auth = await verifyAccessToken(services.config, match[1]);
  } catch (error) {
    const reason = error instanceof InvalidTokenError ? error.message : "invalid token";
    throw new ApiError("unauthorized", `The access token is not valid (${reason}). Sign in again or refresh it.`, {
      headers: { "WWW-Authenticate": 'Bearer realm="reelstream", error="invalid_token"' },
    });
  }
  if (await services.viewerState(auth.userId).isSessionRevoked(auth.sessionId)) {
    throw new ApiError("unauthorized", "This session has ended. Sign in again.", {
      headers: { "WWW-Authenticate": 'Bearer realm="reelstream", error="invalid_token"' },
    });
  }
  c.set("auth", auth);
  await next();
});

/**
 * Requires an admin. The role is read from the primary database, not trusted from the token,
 * so `npm run admin -- revoke` (or a demotion) takes effect on the next request.
 */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const { userId } = c.get("auth");
  const [row] = await c.get("services").db.select({ role: users.role }).from(users).where(eq(users.id, userId));
  if (row?.role !== "admin") throw new ApiError("forbidden", "This action needs the admin role.");
  await next();
});
