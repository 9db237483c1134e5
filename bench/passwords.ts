/**
 * `npm run bench:passwords`: what a password hash costs, and whether sign-in leaks which emails
 * exist through its timing.
 *
 * 1. CPU per hash in V8 (the engine workerd runs): Argon2id at our parameters, side by side with
 *    PBKDF2-SHA256 at Workers' 100,000-iteration ceiling and at OWASP's 600,000.
 * 2. Sign-in through the real Worker (wrangler dev): wrong password vs unknown email vs a route
 *    that does no hashing, p50/p99 and the unknown/wrong ratio (1.0 means no timing oracle).
 */
import Argon2 from "@phi-ag/argon2/node";
import { startLocalStack } from "../scripts/lib/local-stack/index.ts";
import { passwordHashParams } from "../workers/platform/password-params.ts";
import { progress, summarize } from "./lib.ts";

const hashes = Number(process.env.BENCH_HASHES ?? 20);
const signins = Number(process.env.BENCH_SIGNINS ?? 16);

async function time(fn: () => unknown | Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function row(label: string, samples: number[]) {
  const s = summarize(samples);
  console.log(`${label.padEnd(44)} p50 ${s.p50.toFixed(1).padStart(7)} ms   p99 ${s.p99.toFixed(1).padStart(7)} ms   (n=${s.n})`);
  return s;
}

async function pbkdf2(iterations: number) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("correct horse battery staple"), "PBKDF2", false, [
    "deriveBits",
  ]);
  await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: crypto.getRandomValues(new Uint8Array(16)), iterations },
    key,
    256,
  );
}

async function cpuPerHash() {
  console.log(`\n# CPU per hash (Node ${process.version}, V8 — the engine workerd embeds)`);
  const argon2 = await Argon2();
  const rssBefore = process.memoryUsage().rss;
  const argon: number[] = [];
  for (let i = 0; i < hashes; i++) {
    argon.push(await time(() => argon2.hash("correct horse battery staple", passwordHashParams)));
    progress("argon2id", i + 1, hashes);
  }
  const p100k: number[] = [];
  const p600k: number[] = [];
  for (let i = 0; i < Math.min(hashes, 10); i++) {
    p100k.push(await time(() => pbkdf2(100_000)));
    p600k.push(await time(() => pbkdf2(600_000)));
  }
  const a = row(`Argon2id m=${passwordHashParams.memoryCost} KiB t=${passwordHashParams.timeCost} p=1 (WASM)`, argon);
  const b = row("PBKDF2-SHA256 100,000 (Workers' ceiling)", p100k);
  const c = row("PBKDF2-SHA256 600,000 (OWASP)", p600k);
  console.log(`Argon2id / PBKDF2-100k: ${(a.p50 / b.p50).toFixed(2)}x   Argon2id / PBKDF2-600k: ${(a.p50 / c.p50).toFixed(2)}x`);
  console.log(
    `RSS growth for the Argon2 instance: ${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(1)} MiB (19 MiB of it is the Argon2 memory block)`,
  );
}

async function signinTiming() {
  console.log("\n# Sign-in through the Worker (wrangler dev, embedded Postgres)");
  const stack = await startLocalStack();
  try {
    const post = (path: string, body: unknown, ip: string) =>
      fetch(`${stack.url}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
        body: JSON.stringify(body),
      });
    const password = "correct horse battery staple";
    const accounts: string[] = [];
    for (let i = 0; i < signins; i++) {
      const email = `bench-${i}-${Date.now()}@example.com`;
      const response = await post("/v1/auth/signup", { email, password, name: "Bench" }, `10.9.0.${i}`);
      if (response.status !== 201) throw new Error(`signup failed: ${response.status}`);
      accounts.push(email);
      progress("accounts", i + 1, signins);
    }
    const wrong: number[] = [];
    const unknown: number[] = [];
    const baseline: number[] = [];
    // Interleaved, one attempt per account and address, so no rate limit is reached.
    for (let i = 0; i < signins; i++) {
      const account = accounts[i] ?? "";
      wrong.push(
        await time(
          async () => void (await (await post("/v1/auth/signin", { email: account, password: "wrong password!" }, `10.8.1.${i}`)).text()),
        ),
      );
      unknown.push(
        await time(
          async () =>
            void (await (
              await post("/v1/auth/signin", { email: `nobody-${i}@example.com`, password: "wrong password!" }, `10.8.2.${i}`)
            ).text()),
        ),
      );
      baseline.push(await time(async () => void (await (await fetch(`${stack.url}/.well-known/jwks.json`)).text())));
      progress("sign-ins", i + 1, signins);
    }
    const w = row("sign-in, wrong password (known email)", wrong);
    const u = row("sign-in, unknown email", unknown);
    const b = row("GET /.well-known/jwks.json (no hashing)", baseline);
    console.log(`unknown / wrong (p50): ${(u.p50 / w.p50).toFixed(2)}  — 1.00 means the answer time does not tell whether an email exists`);
    console.log(`hashing share of a sign-in (p50): ${(((w.p50 - b.p50) / w.p50) * 100).toFixed(0)}%`);
  } finally {
    await stack.stop();
  }
}

await cpuPerHash();
if (!process.argv.includes("--cpu-only")) await signinTiming();
