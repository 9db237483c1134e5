import { Argon2Type, Argon2Version } from "@phi-ag/argon2";

/**
 * Argon2id with OWASP's first recommendation (19 MiB, t=2, p=1). Workers cap PBKDF2 at 100,000
 * iterations, a sixth of OWASP's 600,000, so PBKDF2 is not an option. The parameters are stored in
 * every PHC string; raise them here and `needsRehash` upgrades each account at its next sign-in.
 */
export const passwordHashParams = {
  type: Argon2Type.Argon2id,
  version: Argon2Version.Version13,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  hashLength: 32,
} as const;
