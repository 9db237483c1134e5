import type { Hono } from "hono";
import type { AppEnv } from "./app-env.ts";

type Matcher = { method: string; pattern: RegExp };

/** A Hono route path (`/v1/videos/:id`, `/media/*`) as a pattern that matches the request paths it serves. */
export function routePattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}/?$`);
}

/**
 * The methods a path answers to, from the app's own route table. Hono answers 404 for a known
 * path with the wrong method; the contract wants 405 with `Allow`.
 */
export function allowedMethods(app: Hono<AppEnv>): (path: string) => string[] {
  let matchers: Matcher[] | undefined;
  return (path) => {
    matchers ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => ({ method: route.method, pattern: routePattern(route.path) }));
    const methods = new Set(matchers.filter((matcher) => matcher.pattern.test(path)).map((matcher) => matcher.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  };
}
