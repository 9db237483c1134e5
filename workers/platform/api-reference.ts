/**
 * The interactive API reference at `/docs`: Scalar's standalone bundle rendering `/openapi.json`.
 *
 * The bundle is served from this origin, as a file of the web app (`npm run build` copies
 * `@scalar/api-reference`'s `dist/browser/standalone.js` to `web/dist/assets/`, under a name that
 * carries its version: web/vite.config.ts), so `/docs` works without the internet and with no
 * third-party host. It runs on the API's origin, which is also the web app's, so it is still
 * pinned: one exact version (the devDependency is exact), with Subresource Integrity (the browser
 * refuses the file if a single byte differs from what was reviewed; the build refuses to copy a
 * file whose hash is not this one), and a Content-Security-Policy that allows that file and the
 * page's own inline call and no other script. The hash is the one of the file in the npm package:
 *
 *     npm pack @scalar/api-reference@<version>
 *     tar xzf scalar-api-reference-<version>.tgz package/dist/browser/standalone.js
 *     echo "sha384-$(openssl dgst -sha384 -binary package/dist/browser/standalone.js | base64 -w0)"
 *
 * To upgrade, change the devDependency and both constants together (and look at the new version's changes first).
 */
export const API_REFERENCE_VERSION = "1.76.0";
export const API_REFERENCE_SCRIPT = {
  url: `/assets/scalar-api-reference-${API_REFERENCE_VERSION}.js`,
  integrity: "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ",
};

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * The page and its headers. `specUrl` is same-origin, so the reference needs no proxy: requests
 * made from its "try it" client go to this origin only (`connect-src 'self'`).
 *
 * @example
 * app.get("/docs", async (c) => { const page = await apiReferencePage({ title: "Reelstream API", specUrl: "/openapi.json" }); return c.body(page.html, 200, page.headers); });
 */
export async function apiReferencePage(options: {
  title: string;
  specUrl: string;
}): Promise<{ html: string; headers: Record<string, string> }> {
  // JSON is valid JavaScript; `<` is escaped so that no value can close the script element.
  const init = `Scalar.createApiReference("#app", ${JSON.stringify({ url: options.specUrl }).replace(/</g, "\\u003c")});`;
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(options.title)}</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="${API_REFERENCE_SCRIPT.url}" integrity="${API_REFERENCE_SCRIPT.integrity}"></script>
    <script>${init}</script>
  </body>
</html>
`;
  const policy = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${await sha256Base64(init)}'`,
    // Scalar injects its stylesheet and sets inline styles; its fonts come from its own host.
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self' data: https://fonts.scalar.com",
    "img-src 'self' data: blob: https:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    html,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": policy,
      "Referrer-Policy": "no-referrer",
      "Cache-Control": "public, max-age=300",
    },
  };
}
