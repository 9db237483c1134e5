import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../api/client.ts";
import { setSession } from "../api/session.ts";
import { signingOutOnPurpose } from "../api/session-end.ts";
import { useSession } from "../api/use-session.ts";
import { ErrorNotice } from "./error-notice.tsx";

export function Header() {
  const session = useSession();
  const { path, route } = useLocation();
  const [error, setError] = useState<unknown>(null);

  // "/" anywhere outside a text field jumps to search, as on most streaming sites.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.key !== "/" || event.ctrlKey || event.metaKey || target?.closest("input, textarea, select, [contenteditable]")) return;
      event.preventDefault();
      if (path === "/search") document.getElementById("search-input")?.focus();
      else if (session) route("/search");
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [path, route, session]);

  async function signOut() {
    setError(null);
    try {
      await api("/v1/auth/signout", { method: "POST" });
    } catch (failure) {
      // The session is dropped here either way; say so if the server did not hear it.
      setError(failure);
    }
    signingOutOnPurpose();
    setSession(null);
    route("/signin");
  }

  const link = (href: string, label: string) => (
    <a href={href} aria-current={path === href ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <header class="site-header">
      <a class="brand" href="/">
        Reelstream
      </a>
      <nav aria-label="Main">
        {session ? (
          <>
            {link("/", "Home")}
            {link("/search", "Search")}
            {link("/plans", "Plans")}
            {session.user.role === "admin" && link("/admin", "Admin")}
            <button type="button" class="link-button" onClick={signOut}>
              Sign out
            </button>
          </>
        ) : (
          <>
            {link("/plans", "Plans")}
            {link("/signin", "Sign in")}
            {link("/signup", "Sign up")}
          </>
        )}
      </nav>
      <ErrorNotice error={error} task="sign-out" />
    </header>
  );
}
