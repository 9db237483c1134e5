import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../api/client.ts";
import type { AdminVideo } from "../api/types.ts";
import { useSession } from "../api/use-session.ts";
import { fieldWords } from "../api/words.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { recentTitles, rememberTitle } from "./recent.ts";
import { VideoFields, videoBody, videoFieldNames } from "./video-fields.tsx";

export function AdminOnly() {
  return (
    <section class="narrow">
      <h1>Admins only</h1>
      <p>This part of Reelstream is for the people who run the catalog. Your account is a viewer account.</p>
    </section>
  );
}

/** Create a title, and find the ones created here again. */
export function AdminPage() {
  const session = useSession();
  const { query, route } = useLocation();
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState<Record<string, unknown>>({});
  const [busy, setBusy] = useState(false);
  if (session?.user.role !== "admin") return <AdminOnly />;

  async function create(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = videoBody(event.currentTarget as HTMLFormElement);
    setSent(body);
    try {
      const { video } = await api<{ video: AdminVideo }>("/v1/admin/videos", { method: "POST", body });
      rememberTitle({ id: video.id, title: video.title });
      route(`/admin/videos/${video.id}`);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  const recent = recentTitles();
  return (
    <section>
      <h1>Admin</h1>
      {query.deleted && (
        <p class="notice" role="status">
          “{query.deleted}” was deleted.
        </p>
      )}
      <div class="columns">
        <form class="panel" onSubmit={create} noValidate aria-labelledby="new-title">
          <h2 id="new-title">New title</h2>
          <ErrorNotice error={error} task="admin-save" fields={videoFieldNames} values={sent} />
          <VideoFields messages={fieldWords(error, sent, "admin-save")} />
          <button type="submit" class="button button-primary" disabled={busy}>
            Create and upload
          </button>
        </form>
        <section class="panel" aria-labelledby="recent">
          <h2 id="recent">Titles created in this browser</h2>
          {recent.length === 0 ? (
            <p>None yet. Ready titles can also be managed from their title page.</p>
          ) : (
            <ul class="recent">
              {recent.map((item) => (
                <li key={item.id}>
                  <a href={`/admin/videos/${item.id}`}>{item.title}</a>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </section>
  );
}
