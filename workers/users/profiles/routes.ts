import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../platform/app-env.ts";
import { requireAuth } from "../../platform/auth.ts";
import { jsonBodyLimit } from "../../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../../platform/openapi.ts";
import {
  createProfileBody,
  profileIdParam,
  profileListResponse,
  profileResponse,
  selectProfileBody,
  selectProfileResponse,
  updateProfileBody,
} from "./schema.ts";
import { createProfile, deleteProfile, listProfiles, selectProfile, updateProfile } from "./service.ts";

const tags = ["Profiles"];

const listRoute = createRoute({
  method: "get",
  path: "/v1/profiles",
  tags,
  summary: "The account's profiles (up to 5), and which one this session acts for",
  description: "From the user's Durable Object: answers while the database is down.",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  responses: {
    200: { description: "The profiles, the main one first", content: { "application/json": { schema: profileListResponse } } },
    ...problemResponses(401, 503),
  },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/profiles",
  tags,
  summary: "Add a profile",
  description: "At most 5 per account (409 beyond). A session on a kids profile cannot (403).",
  security: bearerSecurity,
  middleware: [jsonBodyLimit, requireAuth] as const,
  request: { body: { required: true, content: { "application/json": { schema: createProfileBody } } } },
  responses: {
    201: { description: "The new profile", content: { "application/json": { schema: profileResponse } } },
    ...problemResponses(400, 401, 403, 409, 413, 415, 503),
  },
});

const updateRoute = createRoute({
  method: "patch",
  path: "/v1/profiles/{id}",
  tags,
  summary: "Change a profile: name, kids mode, maturity ceiling, PIN, languages",
  description:
    "A lower ceiling applies to play at once, and to browse and search from the next access token of each device using the profile " +
    "(5 minutes at most). A session on a kids profile cannot (403).",
  security: bearerSecurity,
  middleware: [jsonBodyLimit, requireAuth] as const,
  request: { params: profileIdParam, body: { required: true, content: { "application/json": { schema: updateProfileBody } } } },
  responses: {
    200: { description: "The profile as changed", content: { "application/json": { schema: profileResponse } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

const deleteRouteDef = createRoute({
  method: "delete",
  path: "/v1/profiles/{id}",
  tags,
  summary: "Delete a profile and its progress; devices using it are signed out",
  description: "Not the main profile, nor the one this session uses (409). A session on a kids profile cannot (403).",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  request: { params: profileIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses(401, 403, 404, 409, 503) },
});

const selectRoute = createRoute({
  method: "post",
  path: "/v1/profiles/{id}/select",
  tags,
  summary: "Choose the profile this session acts for",
  description:
    "Checks the profile's PIN (403 `pin` missing or wrong; 429 with Retry-After after 5 wrong PINs in 15 minutes), binds the " +
    "session to the profile and answers a new access token claiming it; the session's refreshes keep it.",
  security: bearerSecurity,
  middleware: [jsonBodyLimit, requireAuth] as const,
  request: { params: profileIdParam, body: { required: true, content: { "application/json": { schema: selectProfileBody } } } },
  responses: {
    200: { description: "The profile and a new access token", content: { "application/json": { schema: selectProfileResponse } } },
    ...problemResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

/** Profiles: kept in the user's `ViewerState` (durable-objects/viewer-state/profiles.ts). */
export function registerProfiles(app: OpenAPIHono<AppEnv>) {
  app.openapi(listRoute, async (c) => {
    c.header("Cache-Control", "private, no-store");
    return c.json(await listProfiles(c.get("services"), c.get("auth")), 200);
  });
  app.openapi(createRouteDef, async (c) => {
    const profile = await createProfile(c.get("services"), c.get("auth"), c.req.valid("json"));
    return c.json({ profile }, 201);
  });
  app.openapi(updateRoute, async (c) => {
    const profile = await updateProfile(c.get("services"), c.get("auth"), c.req.valid("param").id, c.req.valid("json"));
    return c.json({ profile }, 200);
  });
  app.openapi(deleteRouteDef, async (c) => {
    await deleteProfile(c.get("services"), c.get("auth"), c.req.valid("param").id);
    return c.body(null, 204);
  });
  app.openapi(selectRoute, async (c) => {
    const answer = await selectProfile(c.get("services"), c.get("auth"), c.req.valid("param").id, c.req.valid("json").pin);
    c.header("Cache-Control", "no-store");
    return c.json(answer, 200);
  });
}
