export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** A progress line that rewrites itself on a terminal and prints every step elsewhere. */
export function progress(label: string, done: number, total: number) {
  const line = `${label}: ${done}/${total}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}${done === total ? "\n" : ""}`);
  else if (done === total || done % Math.max(1, Math.floor(total / 5)) === 0) console.log(line);
}

/**
 * Raises the named Rate Limiting bindings in a generated configuration (the harness writes it from
 * wrangler.toml; `startLocalStack({ configure })`), so a benchmark's few accounts are not refused.
 * The limiters are still called on every request. Throws when wrangler.toml has none of them.
 */
export function raiseRateLimits(toml: string, names: string[]): string {
  let raised = 0;
  const text = toml.replace(
    /(name = "([A-Z_]+)"\s+namespace_id = "\d+"\s+simple = \{ limit = )\d+/g,
    (whole, head: string, name: string) => {
      if (!names.includes(name)) return whole;
      raised++;
      return `${head}1000000000`;
    },
  );
  if (raised === 0) throw new Error(`wrangler.toml has none of ${names.join(", ")} to raise`);
  return text;
}
