import { beforeAll, describe, expect, it } from "vitest";
import api from "../docs/api.md?raw";
import readme from "../README.md?raw";
import { createApp } from "./index.ts";
import { systemClock } from "./platform/clock.ts";
import { routePattern } from "./platform/method-not-allowed.ts";
import { concretePath, documentedOperations } from "./test/openapi.ts";

/**
 * The routes the docs name are the routes the Worker serves, both ways (docs/testing.md, "Routes
 * in the docs"): every operation of /openapi.json is in docs/api.md and in the README's
 * "Routes → files" table; every route served outside /openapi.json (the media space, the
 * transcoder's internal routes, /openapi.json and /docs themselves) is in the README, and in
 * docs/api.md unless it is internal; and every route either document names exists.
 *
 * A route is written as a code span: methods in capitals joined by `|` (`\|` in a table), a
 * space, the path as OpenAPI writes it (`{param}`, no query string): `GET|HEAD /v1/videos/{id}/play`.
 */

interface Route {
  method: string;
  path: string;
}

const METHOD = "(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)";
const routeSpan = new RegExp(`\`(${METHOD}(?:\\\\?\\|${METHOD})*) (/[^\`\\s]*)\``, "g");

/** Every route a markdown text names, one per method. */
function routesNamedIn(markdown: string): Route[] {
  return [...markdown.matchAll(routeSpan)].flatMap((match) =>
    (match[1] ?? "").split(/\\?\|/).map((method) => ({ method, path: match[2] ?? "" })),
  );
}

/** The README's "Routes → files" section, up to the next heading. */
function readmeRouteTable(): string {
  const start = readme.indexOf("## Routes → files");
  if (start < 0) throw new Error("README.md has no '## Routes → files' section");
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

const label = (route: Route) => `${route.method} ${route.path}`;

/** Hono's `:name` as OpenAPI writes it, `{name}`. */
const openApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

let openApi: Route[];
/** Routes the app registers that /openapi.json does not describe, with Hono's paths. */
let outside: Route[];
const documents = { "docs/api.md": routesNamedIn(api), "README.md's route table": routesNamedIn(readmeRouteTable()) };

beforeAll(async () => {
  openApi = (await documentedOperations()).map(({ method, path }) => ({ method, path }));
  const openApiKeys = new Set(openApi.map(label));
  const registered = createApp({ clock: systemClock })
    .routes.filter((route) => route.method !== "ALL")
    .map((route) => ({ method: route.method, path: route.path }));
  const unique = new Map(registered.map((route) => [label(route), route]));
  outside = [...unique.values()].filter((route) => !openApiKeys.has(`${route.method} ${openApiPath(route.path)}`));
});

/** Whether the app serves `route` (a HEAD beside a GET is served: Hono answers it with the GET). */
function served(route: Route): boolean {
  const methods = route.method === "HEAD" ? ["HEAD", "GET"] : [route.method];
  if (openApi.some((operation) => operation.path === route.path && methods.includes(operation.method))) return true;
  // Outside /openapi.json only: a path that is a variant of a documented one (`/v1/videos/{videoId}`) does not count.
  if (openApi.some((operation) => operation.path === route.path)) return false;
  const url = concretePath(route.path);
  return outside.some((candidate) => methods.includes(candidate.method) && routePattern(candidate.path).test(url));
}

/** Whether a document names `route` of the app (given with Hono's path) with a path that reaches it. */
function named(routes: Route[], route: Route): boolean {
  const pattern = routePattern(route.path);
  return routes.some((candidate) => candidate.method === route.method && pattern.test(concretePath(candidate.path)));
}

describe("the routes in the docs are the Worker's routes", () => {
  it("reads routes from both documents and from the Worker", () => {
    expect(openApi.length).toBeGreaterThan(25);
    expect(outside.map(label)).toEqual(expect.arrayContaining(["GET /media/*", "GET /openapi.json", "POST /internal/transcode/callback"]));
    for (const [name, routes] of Object.entries(documents)) expect(routes.length, name).toBeGreaterThan(25);
    expect(routesNamedIn("`GET\\|HEAD /v1/videos/{id}/play` and `PUT /v1/x`").map(label)).toEqual([
      "GET /v1/videos/{id}/play",
      "HEAD /v1/videos/{id}/play",
      "PUT /v1/x",
    ]);
  });

  it.each(Object.keys(documents))("%s names every operation of /openapi.json", (name) => {
    const routes = documents[name as keyof typeof documents];
    const missing = openApi.filter((operation) => !routes.some((route) => label(route) === label(operation)));
    expect(missing.map(label)).toEqual([]);
  });

  it("the README names every route served outside /openapi.json, and docs/api.md every public one", () => {
    // OPTIONS answers CORS preflights beside the routes it serves; the docs say so in words.
    const routes = outside.filter((route) => route.method !== "OPTIONS");
    expect(routes.filter((route) => !named(documents["README.md's route table"], route)).map(label)).toEqual([]);
    const publicRoutes = routes.filter((route) => !route.path.startsWith("/internal/") && route.path !== "/internal");
    expect(publicRoutes.filter((route) => !named(documents["docs/api.md"], route)).map(label)).toEqual([]);
  });

  it.each(Object.keys(documents))("%s names no route the Worker does not serve", (name) => {
    const routes = documents[name as keyof typeof documents];
    expect(routes.filter((route) => !served(route)).map(label)).toEqual([]);
  });
});
