import { useEffect, useState } from "preact/hooks";
import { getSession, onSessionChange, type Session } from "./session.ts";

/** The current session, re-rendering on sign-in, refresh and sign-out (in any tab). */
export function useSession(): Session | null {
  const [session, setSession] = useState(getSession);
  useEffect(() => onSessionChange(setSession), []);
  return session;
}
