import { z } from "@hono/zod-openapi";
import { safeText } from "../platform/text.ts";

/** Trimmed, NFC-normalised and lower-cased, so one mailbox is one account however it is typed. */
export function normalizeEmail(email: string): string {
  return email.normalize("NFC").trim().toLowerCase();
}

/**
 * An email address: the shared text rules (no control characters, and no invisible formatting
 * character at all, so "zw\u200bada@example.com" cannot become a second "zwada@example.com"),
 * then lower-cased and checked as an address.
 */
export const emailSchema = safeText({ label: "An email address", max: 320, invisible: "refuse" })
  .transform((email) => email.toLowerCase())
  .pipe(
    z
      .email({ pattern: z.regexes.unicodeEmail, error: "Enter a valid email address, like name@example.com." })
      .max(254, "An email address has at most 254 characters."),
  )
  .openapi({ example: "ada@example.com", type: "string", format: "email" });

// A short list of the passwords attackers try first; length does the rest (NIST SP 800-63B).
const commonPasswords = new Set([
  "1234567890",
  "12345678910",
  "123456789a",
  "0123456789",
  "1111111111",
  "0000000000",
  "qwertyuiop",
  "password12",
  "password123",
  "password1!",
  "passw0rd123",
  "iloveyou12",
  "letmein123",
  "welcome123",
  "qwerty1234",
  "abcdefghij",
  "abc1234567",
  "1q2w3e4r5t",
  "q1w2e3r4t5",
  "administrator",
  "reelstream",
  "reelstream1",
  "netflix123",
  "changeme123",
  "football12",
  "baseball12",
  "superman12",
  "trustno1234",
]);

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

/** NFKC so that the same password typed on two keyboards hashes the same (NIST SP 800-63B 5.1.1.2). */
export const passwordSchema = z
  .string()
  .transform((value) => value.normalize("NFKC"))
  .superRefine((value, ctx) => {
    const length = [...value].length;
    if (length < PASSWORD_MIN) ctx.addIssue({ code: "custom", message: `Use at least ${PASSWORD_MIN} characters.` });
    else if (length > PASSWORD_MAX) ctx.addIssue({ code: "custom", message: `Use at most ${PASSWORD_MAX} characters.` });
    else if (new Set(value).size < 4 || commonPasswords.has(value.toLowerCase())) {
      ctx.addIssue({ code: "custom", message: "This password is too easy to guess; a few unrelated words make a strong one." });
    }
  })
  .openapi({ example: "correct horse battery staple", type: "string", minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX });

/**
 * A display name: no control characters and no bidirectional controls or other invisible
 * formatting (a U+202E override would show "Ada" reversed, a zero-width space a second "Ada"),
 * but the zero-width joiner and non-joiner stay: Persian names and emoji sequences need them.
 */
export const nameSchema = safeText({ label: "A name", min: 1, max: 100, invisible: "refuse-except-joiners" }).openapi({
  example: "Ada Lovelace",
  type: "string",
});

/** Where sign-up and sign-in put the refresh token: the JSON body (the default) or the cookie (workers/users/refresh-cookie.ts). */
const refreshTokenIn = z.enum(["body", "cookie"]).optional().openapi({
  description:
    "`cookie`: the refresh token is set as an HttpOnly cookie sent only to /v1/auth/refresh, and left out of the body (browsers). Default `body`.",
});
export type RefreshTokenDelivery = "body" | "cookie";

export const signupBody = z
  .strictObject({ email: emailSchema, password: passwordSchema, name: nameSchema, refreshTokenIn })
  .openapi("SignupRequest");

export const signinBody = z
  .strictObject({
    email: emailSchema,
    // Sign-in never tells which rule a password breaks: any non-empty string is checked against the hash.
    password: z.string().min(1, "Enter your password.").max(1024, "A password has at most 1024 characters."),
    refreshTokenIn,
  })
  .openapi("SigninRequest");

export const refreshBody = z
  .strictObject({
    refreshToken: z
      .string()
      .min(1, "Send the refresh token.")
      .max(200, "This is not a refresh token.")
      .optional()
      .openapi({ description: "Left out by a browser whose refresh token is the cookie (sign-in with `refreshTokenIn: cookie`)." }),
  })
  .openapi("RefreshRequest");

export const userSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(["viewer", "admin"]),
  })
  .openapi("User");

export const authResponse = z
  .object({
    user: userSchema,
    accessToken: z.string().openapi({ description: "ES256 JWT, send as `Authorization: Bearer …`" }),
    refreshToken: z
      .string()
      .optional()
      .openapi({ description: "Opaque; single use, exchanged at /v1/auth/refresh. Absent when it went into the refresh cookie." }),
    expiresIn: z.number().int().openapi({ description: "Seconds until the access token expires" }),
  })
  .openapi("AuthTokens");

export type PublicUser = z.infer<typeof userSchema>;
export type AuthTokens = z.infer<typeof authResponse>;
