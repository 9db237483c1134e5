import type { ManageRefusal, Profile } from "../../../durable-objects/viewer-state.ts";
import { maturityRank, ratingOfRank } from "../../../schema/index.ts";
import type { AuthContext } from "../../platform/app-env.ts";
import { sessionEnded } from "../../platform/auth.ts";
import { ApiError } from "../../platform/errors.ts";
import type { Services } from "../../platform/services.ts";
import { signAccessToken } from "../../platform/tokens.ts";
import { afterRevocation, forgetAfter } from "../service.ts";
import { KIDS_DEFAULT_CEILING, type PublicProfile } from "./schema.ts";

export function toPublicProfile(profile: Profile): PublicProfile {
  return {
    id: profile.id,
    name: profile.name,
    kids: profile.kids,
    maturityCeiling: ratingOfRank(profile.maturityCeiling),
    hasPin: profile.hasPin,
    audioLanguage: profile.audioLanguage,
    captionLanguage: profile.captionLanguage,
    isDefault: profile.isDefault,
  };
}

/** The object's refusal, in words a person can act on. */
function refusalError(refusal: ManageRefusal): ApiError {
  switch (refusal.refused) {
    case "revoked":
      return sessionEnded();
    case "not-found":
      return new ApiError("not-found", "This account has no such profile. List the profiles with GET /v1/profiles.");
    case "limit":
      return new ApiError("conflict", `An account has at most ${refusal.max} profiles. Delete one to make room.`);
    case "default-profile":
      return new ApiError("conflict", "The account's main profile cannot be deleted or made a kids profile.");
    case "in-use":
      return new ApiError("conflict", "This device is using this profile. Switch to another profile first, then delete it.");
    case "kids-profile":
      return new ApiError("forbidden", "A kids profile cannot manage profiles. Switch to another profile to do this.");
    case "pin-required":
      return new ApiError("forbidden", "This profile is locked with a PIN. Enter its PIN to continue.", { title: "PIN required" });
    case "wrong-pin":
      return new ApiError(
        "forbidden",
        `That PIN is not right. ${refusal.triesLeft} ${refusal.triesLeft === 1 ? "try is" : "tries are"} left before the profile is locked for a while.`,
        { title: "Wrong PIN" },
      );
    case "locked": {
      const retryAfter = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
      return new ApiError(
        "too-many-requests",
        `Too many wrong PINs. Try this profile again in ${Math.ceil(retryAfter / 60)} min, or choose another profile.`,
        { headers: { "Retry-After": String(retryAfter) }, title: "Profile locked for a while" },
      );
    }
  }
}

/** The object's answer, or its refusal thrown (RPC answers come wrapped, hence the `Exclude`). */
function unwrap<T extends object>(answer: T): Exclude<T, { refused: string }> {
  if ("refused" in answer) throw refusalError(answer as ManageRefusal);
  return answer as Exclude<T, { refused: string }>;
}

export async function listProfiles(services: Services, auth: AuthContext): Promise<{ profiles: PublicProfile[]; current: string }> {
  const profiles = await services.viewerState(auth.userId).listProfiles(auth.userId);
  return { profiles: profiles.map(toPublicProfile), current: auth.profileId };
}

type CeilingRating = PublicProfile["maturityCeiling"];

export async function createProfile(
  services: Services,
  auth: AuthContext,
  input: {
    name: string;
    kids?: boolean;
    maturityCeiling?: CeilingRating;
    pin?: string;
    audioLanguage?: string | null;
    captionLanguage?: string | null;
  },
): Promise<PublicProfile> {
  const kids = input.kids ?? false;
  const answer = await services.viewerState(auth.userId).createProfile({
    userId: auth.userId,
    sessionId: auth.sessionId,
    actingProfileId: auth.profileId,
    fields: {
      name: input.name,
      kids,
      maturityCeiling: maturityRank(input.maturityCeiling ?? (kids ? KIDS_DEFAULT_CEILING : "18+")),
      pin: input.pin ?? null,
      audioLanguage: input.audioLanguage ?? null,
      captionLanguage: input.captionLanguage ?? null,
    },
  });
  return toPublicProfile(unwrap(answer));
}

export async function updateProfile(
  services: Services,
  auth: AuthContext,
  profileId: string,
  input: {
    name?: string;
    kids?: boolean;
    maturityCeiling?: CeilingRating;
    pin?: string | null;
    audioLanguage?: string | null;
    captionLanguage?: string | null;
  },
): Promise<PublicProfile> {
  const { maturityCeiling, ...rest } = input;
  const answer = await services.viewerState(auth.userId).updateProfile({
    userId: auth.userId,
    sessionId: auth.sessionId,
    actingProfileId: auth.profileId,
    profileId,
    change: { ...rest, ...(maturityCeiling !== undefined ? { maturityCeiling: maturityRank(maturityCeiling) } : {}) },
  });
  return toPublicProfile(unwrap(answer));
}

/** Deletes a profile; the devices using it are signed out (as a sign-out of each: the deny-list too). */
export async function deleteProfile(services: Services, auth: AuthContext, profileId: string): Promise<void> {
  const now = services.clock.now();
  const answer = unwrap(
    await services.viewerState(auth.userId).deleteProfile({
      userId: auth.userId,
      sessionId: auth.sessionId,
      actingProfileId: auth.profileId,
      profileId,
      forgetAfterMs: forgetAfter(services, now),
    }),
  );
  await afterRevocation(services, { userId: auth.userId, sessionIds: answer.sessionIds }, "profile-deleted", now);
}

/**
 * Binds the session to a profile (the object checks its PIN) and signs an access token that
 * claims it; the session's refreshes keep it.
 */
export async function selectProfile(
  services: Services,
  auth: AuthContext,
  profileId: string,
  pin: string | undefined,
): Promise<{ profile: PublicProfile; accessToken: string; expiresIn: number }> {
  const profile = unwrap(
    await services.viewerState(auth.userId).selectProfile({ userId: auth.userId, sessionId: auth.sessionId, profileId, pin }),
  );
  const accessToken = await signAccessToken(
    services.config,
    { ...auth, profileId: profile.id, maturityCeiling: profile.maturityCeiling },
    services.clock.now(),
  );
  return { profile: toPublicProfile(profile), accessToken, expiresIn: services.config.ACCESS_TOKEN_TTL_SECONDS };
}
