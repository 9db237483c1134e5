import Argon2, { Argon2Type } from "@phi-ag/argon2";
import argon2Wasm from "@phi-ag/argon2/argon2.wasm";
import { passwordHashParams } from "./password-params.ts";

export { passwordHashParams };

let argon2: Argon2 | undefined;

// The module is compiled at upload time (Workers forbid compiling WebAssembly at run time);
// instantiating it is cheap and done once per isolate, on first use.
async function getArgon2(): Promise<Argon2> {
  argon2 ??= new Argon2(await WebAssembly.instantiate(argon2Wasm));
  return argon2;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return (await getArgon2()).hash(password, { ...passwordHashParams, salt }).encoded;
}

export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  return (await getArgon2()).tryVerify(encoded, password, Argon2Type.Argon2id).success;
}

const phcParams = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/;

/** True when a stored hash was made with other parameters than today's. */
export function needsRehash(encoded: string): boolean {
  const match = phcParams.exec(encoded);
  if (!match) return true;
  const [, version, memory, time, lanes] = match.map(Number);
  return (
    version !== passwordHashParams.version ||
    memory !== passwordHashParams.memoryCost ||
    time !== passwordHashParams.timeCost ||
    lanes !== passwordHashParams.parallelism
  );
}

let decoyHash: Promise<string> | undefined;

/**
 * Verifies against a throw-away hash with today's parameters. Sign-in calls it for an unknown
 * email so that "no such account" costs the same time as "wrong password".
 */
export async function verifyDecoy(password: string): Promise<false> {
  decoyHash ??= hashPassword(crypto.randomUUID());
  await verifyPassword(await decoyHash, password);
  return false;
}
