import { z } from "@hono/zod-openapi";

export const problemSchema = z
  .object({
    type: z.string().openapi({ example: "https://reelstream.dev/problems/validation" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const descriptions: Record<number, string> = {
  400: "Invalid input (validation errors in `errors`)",
  401: "Missing or invalid access token",
  402: "No active subscription",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Body too large",
  429: "Rate limited (see Retry-After)",
  503: "A dependency is down (see Retry-After)",
};

/** OpenAPI entries for the problem+json answers a route can give. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: descriptions[status] ?? "Error", content: { "application/problem+json": { schema: problemSchema } } },
    ]),
  );
}

export const bearerSecurity = [{ bearerAuth: [] }];
