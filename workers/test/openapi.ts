import { call } from "./helpers.ts";

/** What the table tests read of one operation of the Worker's own `/openapi.json`. */
export interface Operation {
  /** Upper case: `GET`, `POST`, … */
  method: string;
  /** As OpenAPI writes it: `/v1/videos/{id}`. */
  path: string;
  secured: boolean;
  admin: boolean;
  /** The operation declares an `application/json` request body. */
  jsonBody: boolean;
}

type OpenApiDocument = {
  paths: Record<string, Record<string, { security?: unknown[]; tags?: string[]; requestBody?: { content?: Record<string, unknown> } }>>;
};

const methods = ["get", "put", "post", "delete", "patch", "head", "options"];

/** Every operation the running Worker documents at `/openapi.json`. */
export async function documentedOperations(): Promise<Operation[]> {
  const response = await call("/openapi.json");
  if (response.status !== 200) throw new Error(`/openapi.json answered ${response.status}`);
  const document = (await response.json()) as OpenApiDocument;
  return Object.entries(document.paths).flatMap(([path, item]) =>
    methods
      .filter((method) => item[method])
      .map((method) => {
        const operation = item[method] ?? {};
        return {
          method: method.toUpperCase(),
          path,
          secured: (operation.security ?? []).length > 0,
          admin: path.startsWith("/v1/admin/") || (operation.tags ?? []).includes("Admin"),
          jsonBody: Object.keys(operation.requestBody?.content ?? {}).includes("application/json"),
        };
      }),
  );
}

/** A concrete URL for a documented path: parameters get values of the right shape that name nothing. */
export function concretePath(path: string): string {
  return path
    .replace("{id}", "0123456789abcdefghij")
    .replace("{uploadId}", "0123456789abcdef0123456789abcdef")
    .replace(/\{[^}]+\}/g, "x");
}
