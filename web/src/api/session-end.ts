import { getSession, onSessionChange } from "./session.ts";

/**
 * Tells "your session ended" (signed out elsewhere, revoked, expired: a refresh the API refused)
 * from "you signed out", and keeps the email of the ended session for the sign-in form. Kept in
 * sessionStorage, so a reload on the sign-in page still says it.
 */
const KEY = "reelstream.session-ended";
let lastEmail = getSession()?.user.email ?? null;
let onPurpose = false;

onSessionChange((session) => {
  if (session) {
    lastEmail = session.user.email;
    sessionStorage.removeItem(KEY);
  } else if (!onPurpose && lastEmail) {
    sessionStorage.setItem(KEY, lastEmail);
  }
  onPurpose = false;
});

/** The next sign-out is the person's own (the header's Sign out): nothing to explain. */
export function signingOutOnPurpose(): void {
  onPurpose = true;
  lastEmail = null;
}

/** The email of a session that ended without the person signing out, if that is why they are here. */
export function endedSessionEmail(): string | null {
  return sessionStorage.getItem(KEY);
}
