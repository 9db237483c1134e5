import { base64url as joseBase64url } from "jose";

/** base64url without padding (RFC 4648 §5), by jose's codec. */
export function base64url(data: Uint8Array | ArrayBuffer): string {
  return joseBase64url.encode(data instanceof Uint8Array ? data : new Uint8Array(data));
}

/** Decodes unpadded base64url (jose's codec); undefined for anything else, instead of throwing. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    return joseBase64url.decode(text) as Uint8Array<ArrayBuffer>;
  } catch {
    return undefined;
  }
}

/** A random opaque token: `prefix` + 256 bits. */
export function randomToken(prefix: string): string {
  return prefix + base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** SHA-256 of a string, hex: how secrets that must be looked up (refresh tokens) are stored. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
