import { expect } from "vitest";
import { call, type SignedIn } from "./helpers.ts";
import { anotherSession } from "./playback.ts";

export interface ProfileAnswer {
  id: string;
  name: string;
  kids: boolean;
  maturityCeiling: string;
  hasPin: boolean;
  audioLanguage: string | null;
  captionLanguage: string | null;
  isDefault: boolean;
}

/** Adds a profile to the viewer's account through the API. */
export async function createProfile(viewer: SignedIn, body: Record<string, unknown>): Promise<ProfileAnswer> {
  const response = await call("/v1/profiles", { method: "POST", token: viewer.accessToken, json: body });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { profile: ProfileAnswer }).profile;
}

/** Selects a profile on the viewer's session: the same session, with the access token that claims the profile. */
export async function selectProfile(viewer: SignedIn, profileId: string, pin?: string): Promise<SignedIn> {
  const response = await call(`/v1/profiles/${profileId}/select`, { method: "POST", token: viewer.accessToken, json: pin ? { pin } : {} });
  expect(response.status, await response.clone().text()).toBe(200);
  const { accessToken } = (await response.json()) as { accessToken: string };
  return { ...viewer, accessToken };
}

/** A kids profile (ceiling 7+ unless given), selected on a new session of the account (a child's tablet). */
export async function kidsSession(viewer: SignedIn, maturityCeiling = "7+"): Promise<{ profile: ProfileAnswer; kids: SignedIn }> {
  const profile = await createProfile(viewer, { name: "Kids", kids: true, maturityCeiling });
  return { profile, kids: await selectProfile(await anotherSession(viewer), profile.id) };
}

/** The claims of an access token (its payload, not verified: the Worker verified it when it signed it). */
export function claimsOf(accessToken: string): Record<string, unknown> {
  const payload = accessToken.split(".")[1] ?? "";
  return JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/")));
}
