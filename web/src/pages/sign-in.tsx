import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../api/client.ts";
import { sessionFromTokens, setSession } from "../api/session.ts";
import { endedSessionEmail } from "../api/session-end.ts";
import type { AuthTokens } from "../api/types.ts";
import { fieldWords } from "../api/words.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { Field } from "../ui/field.tsx";

type Mode = "signin" | "signup";

/** Sign in and sign up: one form, one more field for a new account. */
function AuthForm({ mode }: { mode: Mode }) {
  const { query, route } = useLocation();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<Record<string, unknown>>({});
  const task = mode === "signin" ? "sign-in" : "sign-up";
  const messages = fieldWords(error, sent, task);
  // A session that ended by itself (not the header's Sign out): say so, and keep the email.
  const [ended] = useState(() => (mode === "signin" ? endedSessionEmail() : null));
  // Only a path on this site: `next` comes from the address bar.
  const next = query.next?.startsWith("/") && !query.next.startsWith("//") ? query.next : mode === "signup" ? "/plans" : "/";

  async function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const body = Object.fromEntries(["name", "email", "password"].filter((key) => form.has(key)).map((key) => [key, form.get(key)]));
    setBusy(true);
    setError(null);
    setSent(body);
    try {
      // Asked again after a 503: the account service did nothing (a sign-up it did make answers 409, never a second account).
      // The refresh token goes into an HttpOnly cookie, out of this page's reach (docs/web.md "Sessions").
      const tokens = await api<AuthTokens>(`/v1/auth/${mode}`, {
        method: "POST",
        body: { ...body, refreshTokenIn: "cookie" },
        auth: false,
        repeatable: true,
      });
      setSession(sessionFromTokens(tokens));
      route(next);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  const fields = ["name", "email", "password"];
  return (
    <section class="narrow">
      <h1>{mode === "signin" ? "Sign in" : "Create your account"}</h1>
      {ended && !error && (
        <p class="notice" role="status">
          Your session has ended, so you were signed out. Sign in again to go on where you were.
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <ErrorNotice error={error} task={task} fields={fields} values={sent} />
        {mode === "signup" && (
          <Field name="name" label="Name" message={messages.name}>
            {(attributes) => <input {...attributes} autocomplete="name" required />}
          </Field>
        )}
        <Field name="email" label="Email" message={messages.email}>
          {(attributes) => <input {...attributes} type="email" autocomplete="email" required defaultValue={ended ?? undefined} />}
        </Field>
        <Field
          name="password"
          label="Password"
          message={messages.password}
          hint={mode === "signup" ? "At least 10 characters; a few unrelated words make a strong one." : undefined}
        >
          {(attributes) => (
            <input {...attributes} type="password" autocomplete={mode === "signin" ? "current-password" : "new-password"} required />
          )}
        </Field>
        <button type="submit" class="button button-primary" disabled={busy}>
          {mode === "signin" ? "Sign in" : "Create account"}
        </button>
      </form>
      <p>
        {mode === "signin" ? (
          <>
            New here? <a href={`/signup${query.next ? `?next=${encodeURIComponent(query.next)}` : ""}`}>Create an account</a>
          </>
        ) : (
          <>
            Have an account? <a href="/signin">Sign in</a>
          </>
        )}
      </p>
    </section>
  );
}

export const SignInPage = () => <AuthForm mode="signin" />;
export const SignUpPage = () => <AuthForm mode="signup" />;
