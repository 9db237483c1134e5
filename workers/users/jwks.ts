import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { publicJwks } from "../platform/tokens.ts";

const jwksSchema = z
  .object({
    keys: z.array(
      z.object({ kty: z.string(), crv: z.string(), x: z.string(), y: z.string(), kid: z.string(), alg: z.string(), use: z.string() }),
    ),
  })
  .openapi("Jwks");

const route = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["Users"],
  summary: "Public keys that verify access tokens",
  responses: { 200: { description: "JSON Web Key Set", content: { "application/json": { schema: jwksSchema } } } },
});

export function registerJwks(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(publicJwks(c.get("services").config) as z.infer<typeof jwksSchema>, 200);
  });
}
