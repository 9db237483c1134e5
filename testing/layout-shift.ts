import type { BrowserContext, Page } from "playwright-core";

/**
 * Layout shift as Chromium reports it (`layout-shift` entries), for the e2e journeys and
 * `bench:web`. Every page of a context records its shifts from the first paint on
 * (`recordLayoutShifts`); `takeLayoutShift` answers the CLS of what was recorded since the last
 * call and starts again, so each page of a single-page app is scored on its own.
 *
 * CLS is web.dev's: shifts without recent input (500 ms after a click or key) grouped into session
 * windows (a gap under 1 s, at most 5 s long), the largest window's sum.
 */
export async function recordLayoutShifts(context: BrowserContext): Promise<void> {
  await context.addInitScript(`
    window.__layoutShifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (entry.hadRecentInput) continue;
        const moved = (entry.sources ?? []).map((source) => {
          const node = source.node;
          if (!node || !node.tagName) return node ? node.nodeName : "?";
          return node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") + [...(node.classList ?? [])].map((name) => "." + name).join("");
        });
        window.__layoutShifts.push({ at: entry.startTime, value: entry.value, moved });
      }
    }).observe({ type: "layout-shift", buffered: true });
  `);
}

export async function takeLayoutShift(page: Page): Promise<number> {
  return (await takeLayoutShifts(page)).score;
}

/** The CLS since the last take, and what moved in its worst window (`main > p.status` style names). */
export async function takeLayoutShifts(page: Page): Promise<{ score: number; moved: string[] }> {
  const shifts = (await page.evaluate(`(window.__layoutShifts ?? []).splice(0)`)) as { at: number; value: number; moved: string[] }[];
  let worst = 0;
  let worstMoved: string[] = [];
  let moved: string[] = [];
  let window = 0;
  let first = 0;
  let last = 0;
  for (const shift of shifts) {
    if (window > 0 && shift.at - last < 1000 && shift.at - first < 5000) {
      window += shift.value;
      moved.push(...shift.moved);
    } else {
      window = shift.value;
      first = shift.at;
      moved = [...shift.moved];
    }
    last = shift.at;
    if (window > worst) {
      worst = window;
      worstMoved = [...new Set(moved)];
    }
  }
  return { score: worst, moved: worstMoved };
}
