import type { Hono } from "hono";
import type { AppEnv } from "./app-env.ts";

type Matcher = { method: string; pattern: RegExp };

function toPattern(path: string): RegExp {
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
      .map((route) => ({ method: route.method, pattern: toPattern(route.path) }));
    const methods = new Set(matchers.filter((matcher) => matcher.pattern.test(path)).map((matcher) => matcher.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  };
}
