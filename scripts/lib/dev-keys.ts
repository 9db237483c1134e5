import { exportJWK, generateKeyPair } from "jose";

/** A fresh ES256 signing key set in the shape `JWT_SIGNING_KEYS` expects. */
export async function generateSigningKeys(kid = `dev-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return JSON.stringify({ keys: [{ ...jwk, kid, alg: "ES256" }] });
}
