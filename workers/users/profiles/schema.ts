import { z } from "@hono/zod-openapi";
import { maturityRank, maturityRatings } from "../../../schema/index.ts";
import { safeText } from "../../platform/text.ts";

/** A kids profile sees at most this rating (`13+`); it starts at `7+`. */
export const KIDS_MAX_CEILING = "13+";
export const KIDS_DEFAULT_CEILING = "7+";

const ceiling = z
  .enum(maturityRatings, {
    error: () => "maturityCeiling is one of all, 7+, 13+, 16+ or 18+: the highest rating this profile may watch.",
  })
  .openapi({ example: "7+", description: "The highest maturity rating the profile may see, find or play" });

const language = z
  .string()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/, "Use a language tag such as en, fr or pt-BR.")
  .nullable()
  .openapi({ example: "en", description: "BCP 47 language tag; null for the title's own default" });

const pin = z
  .string()
  .regex(/^\d{4,8}$/, "A PIN is 4 to 8 digits.")
  .openapi({ example: "2580", description: "Asked when the profile is chosen; stored hashed, never shown" });

const profileName = safeText({ label: "A profile name", min: 1, max: 40, invisible: "refuse-except-joiners" }).openapi({
  type: "string",
  example: "Kids",
});

export const profileSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kids: z.boolean(),
    maturityCeiling: z.enum(maturityRatings),
    hasPin: z.boolean(),
    audioLanguage: z.string().nullable(),
    captionLanguage: z.string().nullable(),
    isDefault: z.boolean().openapi({ description: "The account's first profile (its id is the user id); it cannot be deleted" }),
  })
  .openapi("Profile");

export type PublicProfile = z.infer<typeof profileSchema>;

const kidsCeilingRule = {
  check: (body: { kids?: boolean; maturityCeiling?: (typeof maturityRatings)[number] }) =>
    !(body.kids && body.maturityCeiling && maturityRank(body.maturityCeiling) > maturityRank(KIDS_MAX_CEILING)),
  issue: { message: `A kids profile's ceiling is at most ${KIDS_MAX_CEILING}.`, path: ["maturityCeiling"] },
};

export const createProfileBody = z
  .strictObject({
    name: profileName,
    kids: z.boolean().optional().openapi({ description: "Kids mode: a ceiling of at most 13+ (7+ unless given); manages no profiles" }),
    maturityCeiling: ceiling.optional().openapi({ description: "Default 18+, or 7+ for a kids profile" }),
    pin: pin.optional(),
    audioLanguage: language.optional(),
    captionLanguage: language.optional(),
  })
  .refine(kidsCeilingRule.check, kidsCeilingRule.issue)
  .openapi("CreateProfileRequest");

export const updateProfileBody = z
  .strictObject({
    name: profileName.optional(),
    kids: z.boolean().optional(),
    maturityCeiling: ceiling.optional(),
    pin: pin.nullable().optional().openapi({ description: "A new PIN, or null to remove it" }),
    audioLanguage: language.optional(),
    captionLanguage: language.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, "Send at least one field to change.")
  .refine(kidsCeilingRule.check, kidsCeilingRule.issue)
  .openapi("UpdateProfileRequest");

export const selectProfileBody = z
  .strictObject({
    pin: z.string().max(16, "A PIN is 4 to 8 digits.").optional().openapi({ description: "The profile's PIN, when it has one" }),
  })
  .openapi("SelectProfileRequest");

export const profileIdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, description: "Profile id" }),
});

export const profileResponse = z.object({ profile: profileSchema }).openapi("ProfileEnvelope");

export const profileListResponse = z
  .object({
    profiles: z.array(profileSchema),
    current: z.string().openapi({ description: "The id of the profile this session acts for" }),
  })
  .openapi("ProfileList");

export const selectProfileResponse = z
  .object({
    profile: profileSchema,
    accessToken: z.string().openapi({ description: "A new access token for this session, claiming the profile (`pid`, `mc`)" }),
    expiresIn: z.number().int(),
  })
  .openapi("ProfileSelected");
