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
