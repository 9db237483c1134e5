import { exportJWK, generateKeyPair } from "jose";

/** A fresh ES256 signing key set in the shape `JWT_SIGNING_KEYS` expects. */
export async function generateSigningKeys(kid = `dev-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return JSON.stringify({ keys: [{ ...jwk, kid, alg: "ES256" }] });
}

/** 32 random bytes, base64url: an HMAC secret such as `INTERNAL_SIGNING_SECRET`. */
export function generateSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/** A fresh HMAC key set in the shape `MEDIA_SIGNING_KEYS` expects. */
export function generateMediaSigningKeys(kid = `media-${crypto.randomUUID().slice(0, 8)}`): string {
  return JSON.stringify({ keys: [{ kid, secret: generateSecret() }] });
}

/** The secrets this project makes itself (the database's URL comes from Neon). */
export const generatedSecretNames = ["JWT_SIGNING_KEYS", "MEDIA_SIGNING_KEYS", "INTERNAL_SIGNING_SECRET"] as const;
export type GeneratedSecretName = (typeof generatedSecretNames)[number];

/**
 * Fresh values of `names`, in the shapes workers/platform/config.ts checks; key ids start with
 * `label` and the date (`production-2026-11-20-1a2b3c4d`), so a rotation's keys are told apart.
 *
 * @example
 * await generateSecrets(["JWT_SIGNING_KEYS"], "staging"); // { JWT_SIGNING_KEYS: '{"keys":[…]}' }
 */
export async function generateSecrets(names: readonly GeneratedSecretName[], label: string): Promise<Record<string, string>> {
  const kid = () => `${label}-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`;
  const generators: Record<GeneratedSecretName, () => Promise<string> | string> = {
    JWT_SIGNING_KEYS: () => generateSigningKeys(kid()),
    MEDIA_SIGNING_KEYS: () => generateMediaSigningKeys(kid()),
    INTERNAL_SIGNING_SECRET: () => generateSecret(),
  };
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await generators[name]()] as const)));
}
