import { type JWK, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { isMaturityRank, NO_CEILING } from "../../schema/maturity/ratings.ts";
import type { AuthContext } from "./app-env.ts";
import type { Config } from "./config.ts";

/** Only this algorithm is ever accepted: no `none`, no HS256 with the public key as secret. */
export const ACCESS_TOKEN_ALG = "ES256";
const ACCESS_TOKEN_TYPE = "at+jwt"; // RFC 9068

export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  sid: string;
  role: AuthContext["role"];
  /** The profile (docs/decisions/0020-profiles-in-the-token.md). */
  pid: string;
  /** The profile's maturity ceiling, a rank 0..4. */
  mc: number;
}

/**
 * Signs a short-lived access token with the active (first) key, issued at `nowMs` (the clock's).
 *
 * @example
 * const token = await signAccessToken(config, { userId, sessionId, role: "viewer", profileId: userId, maturityCeiling: 4 }, services.clock.now());
 */
export async function signAccessToken(config: Config, auth: AuthContext, nowMs: number): Promise<string> {
  const [key] = config.signingKeys;
  if (!key) throw new Error("no signing key configured");
  const issuedAt = Math.floor(nowMs / 1000);
  return new SignJWT({ sid: auth.sessionId, role: auth.role, pid: auth.profileId, mc: auth.maturityCeiling })
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
    .setSubject(auth.userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + config.ACCESS_TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}

export class InvalidTokenError extends Error {}

/** Tokens this isolate has verified, per configuration, until they expire. */
const verified = new WeakMap<Config, Map<string, { auth: AuthContext; expiresAtMs: number }>>();
/** A bound on the memory the cache may hold (about 0.5 KB a token); past it, it starts over. */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies an access token at `nowMs` (signature by `kid`, algorithm, type, issuer, audience,
 * expiry and required claims), remembered per isolate until the token's `exp`: a token is checked once
 * (an ECDSA verification) however many requests carry it. Only the signature work is cached;
 * whether the session was signed out is the caller's check, on every request.
 *
 * @example
 * const auth = await verifyAccessTokenCached(services.config, token, services.clock.now());
 */
export async function verifyAccessTokenCached(config: Config, token: string, nowMs: number): Promise<AuthContext> {
  let tokens = verified.get(config);
  if (!tokens) {
    tokens = new Map();
    verified.set(config, tokens);
  }
  const known = tokens.get(token);
  if (known && known.expiresAtMs > nowMs) return known.auth;
  if (known) tokens.delete(token);
  const { auth, expiresAtMs } = await verifyWithExpiry(config, token, nowMs);
  if (tokens.size >= VERIFIED_TOKENS_MAX) tokens.clear();
  // Remembered until `exp` itself, without jose's clock tolerance: never longer than a fresh check would accept it.
  tokens.set(token, { auth, expiresAtMs });
  return auth;
}

async function verifyWithExpiry(config: Config, token: string, nowMs: number): Promise<{ auth: AuthContext; expiresAtMs: number }> {
  try {
    const { payload } = await jwtVerify<AccessTokenClaims>(
      token,
      (header) => {
        const key = config.signingKeys.find((candidate) => candidate.kid === header.kid);
        if (!key) throw new InvalidTokenError("unknown key id");
        return key.publicKey;
      },
      {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ["sub", "sid", "role", "iat", "exp", "jti"],
        clockTolerance: 5,
        currentDate: new Date(nowMs),
      },
    );
    if (typeof payload.sid !== "string" || (payload.role !== "viewer" && payload.role !== "admin")) {
      throw new InvalidTokenError("malformed claims");
    }
    // Tokens signed before profiles (5 minutes at most at deploy) carry neither: the default profile, no ceiling.
    const pid = payload.pid ?? payload.sub;
    const mc = payload.mc ?? NO_CEILING;
    if (typeof pid !== "string" || pid.length === 0 || pid.length > 64 || !isMaturityRank(mc))
      throw new InvalidTokenError("malformed claims");
    return {
      auth: { userId: payload.sub, sessionId: payload.sid, role: payload.role, profileId: pid, maturityCeiling: mc },
      expiresAtMs: (payload.exp ?? 0) * 1000,
    };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    if (error instanceof joseErrors.JOSEError) {
      throw new InvalidTokenError(error instanceof joseErrors.JWTExpired ? "token expired" : error.code);
    }
    throw new InvalidTokenError("malformed token");
  }
}

/** The public keys, for `/.well-known/jwks.json`. */
export function publicJwks(config: Config): { keys: JWK[] } {
  return { keys: config.signingKeys.map((key) => key.publicJwk) };
}
