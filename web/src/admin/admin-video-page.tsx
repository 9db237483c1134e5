import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../api/client.ts";
import type { AdminVideo, AdminVideoStatus } from "../api/types.ts";
import { useSession } from "../api/use-session.ts";
import { fieldWords } from "../api/words.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { useResource } from "../ui/use-resource.ts";
import { AdminOnly } from "./admin-page.tsx";
import { forgetTitle, rememberTitle } from "./recent.ts";
import { QualityReportPanel, StatusPanel } from "./status-panel.tsx";
import { UploadPanel } from "./upload-panel.tsx";
import { VideoFields, videoBody, videoFieldNames } from "./video-fields.tsx";

/** While the pipeline works, the page asks again this often. */
const POLL_MS = 1000;
const settled = (state: string) => state === "ready" || state === "failed" || state === "awaiting-upload";

/** Edit a title's metadata (only the fields that changed are sent). */
function EditPanel({ video, onSaved }: { video: AdminVideo; onSaved: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState<Record<string, unknown>>({});
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);

  async function save(event: Event) {
    event.preventDefault();
    const body = videoBody(event.currentTarget as HTMLFormElement);
    const before: Record<string, unknown> = { ...video };
    const changed = Object.fromEntries(
      Object.entries(body).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(before[key])),
    );
    setError(null);
    setSaved("");
    if (Object.keys(changed).length === 0) {
      setSaved("Nothing changed.");
      return;
    }
    setBusy(true);
    setSent(changed);
    try {
      await api(`/v1/admin/videos/${video.id}`, { method: "PATCH", body: changed, repeatable: true });
      setSaved("Saved. Viewers and search see the change now.");
      rememberTitle({ id: video.id, title: String(body.title) });
      onSaved();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="panel" onSubmit={save} noValidate aria-labelledby="edit-heading">
      <h2 id="edit-heading">Details</h2>
      <ErrorNotice error={error} task="admin-save" fields={videoFieldNames} values={sent} />
      <VideoFields video={video} messages={fieldWords(error, sent, "admin-save")} />
      <button type="submit" class="button button-primary" disabled={busy}>
        Save changes
      </button>
      <p role="status" class="status-line">
        {saved}
      </p>
    </form>
  );
}

/** Delete, after a confirmation in a modal dialog. */
function DeletePanel({ video }: { video: AdminVideo }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<unknown>(null);
  const { route } = useLocation();
  async function remove() {
    setError(null);
    try {
      await api(`/v1/admin/videos/${video.id}`, { method: "DELETE" });
      forgetTitle(video.id);
      dialog.current?.close();
      route(`/admin?deleted=${encodeURIComponent(video.title)}`);
    } catch (failure) {
      setError(failure);
    }
  }
  return (
    <section class="panel" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete</h2>
      <p>Deleting removes the title, its files and its search entry for good.</p>
      <button type="button" class="button button-danger" onClick={() => dialog.current?.showModal()}>
        Delete this title
      </button>
      <dialog ref={dialog} aria-labelledby="confirm-heading">
        <h2 id="confirm-heading">Delete “{video.title}”?</h2>
        <p>This cannot be undone.</p>
        <ErrorNotice error={error} task="admin-delete" onRetry={remove} />
        <p class="actions">
          <button type="button" class="button" onClick={() => dialog.current?.close()}>
            Keep it
          </button>
          <button type="button" class="button button-danger" onClick={remove}>
            Delete
          </button>
        </p>
      </dialog>
    </section>
  );
}

export function AdminVideoPage({ id }: { id: string }) {
  const session = useSession();
  const status = useResource((signal) => api<AdminVideoStatus>(`/v1/admin/videos/${encodeURIComponent(id)}`, { signal }), id);
  const [uploadFinished, setUploadFinished] = useState(0);
  /** An upload finished on this page: its panel stays ("Upload complete"), so what is below it does not jump up. */
  const [uploadedHere, setUploadedHere] = useState(false);
  const state = status.data?.state;

  // Poll while the pipeline works on it (and right after an upload finished).
  useEffect(() => {
    if (!state || (settled(state) && uploadFinished === 0)) return;
    const timer = setTimeout(status.reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [state, status.data, uploadFinished, status.reload]);
  useEffect(() => {
    if (state && state !== "awaiting-upload" && uploadFinished > 0) setUploadFinished(0);
  }, [state, uploadFinished]);

  if (session?.user.role !== "admin") return <AdminOnly />;
  if (!status.data) return status.error ? <ErrorNotice error={status.error} task="admin" onRetry={status.reload} /> : <p>Loading…</p>;
  const { video } = status.data;
  return (
    <section>
      <h1>{video.title}</h1>
      <p>
        <a href="/admin">All admin tasks</a>
        {video.state === "ready" && (
          <>
            {" · "}
            <a href={`/title/${video.id}`}>See it as viewers do</a>
          </>
        )}
      </p>
      {status.error ? <ErrorNotice error={status.error} task="admin" onRetry={status.reload} /> : null}
      <div class="columns">
        <div>
          <StatusPanel status={status.data} />
          {(video.state === "awaiting-upload" || video.state === "uploading" || uploadedHere) && (
            <UploadPanel
              videoId={video.id}
              onFinished={() => {
                setUploadedHere(true);
                setUploadFinished((n) => n + 1);
              }}
            />
          )}
        </div>
        <div>
          <EditPanel video={video} onSaved={status.reload} />
          <DeletePanel video={video} />
        </div>
      </div>
      {/* Last on the page: the report appears when transcoding ends and pushes nothing down. */}
      <QualityReportPanel status={status.data} />
    </section>
  );
}
