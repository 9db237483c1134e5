import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { encodeClip } from "../../../scripts/lib/clips.ts";
import { startLocalStack } from "../../../scripts/lib/local-stack/index.ts";
import { buildWebApp } from "../../../scripts/lib/web-app.ts";

export { launchChromium, noBrowser } from "../../../testing/chromium.ts";

export const viewports = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
} as const;
export type ViewportName = keyof typeof viewports;

/**
 * The web app built from this checkout into a folder of its own, served by a throw-away local
 * stack (wrangler dev on the production Worker, PGlite, the Node transcoder), with `vars` on top.
 */
export async function startWebStack(vars: Record<string, string>) {
  const assets = mkdtempSync(join(tmpdir(), "reelstream-web-"));
  await buildWebApp(assets);
  return startLocalStack({ assets, vars });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's serious and critical violations on the page as it is now, as readable lines. */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, not a <script> element: the app's policy allows no inline script.
  if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)",
  )) as AxeViolation[];
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.impact} ${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(" ")).join(", ")})`,
    );
}

/** Where page screenshots go: WEB_SCREENSHOTS_DIR (docs/web for the docs), else a temporary folder. */
export const screenshotDir = process.env.WEB_SCREENSHOTS_DIR ?? join(tmpdir(), "reelstream-web-screenshots");

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), animations: "disabled", caret: "hide" });
}

/** A 720p test pattern with a tone, encoded losslessly so that it is large (about 1.7 MB a second). */
export async function generateClip(dir: string, name: string, seconds: number): Promise<string> {
  const path = join(dir, `${name}.mp4`);
  await encodeClip(path, {
    video: `testsrc2=s=1280x720:r=25:d=${seconds}`,
    tone: { frequency: 440, seconds },
    preset: "ultrafast",
    audioBitrate: "64k",
    output: ["-qp", "0"],
  });
  return path;
}
