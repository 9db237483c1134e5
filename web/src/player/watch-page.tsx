import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "../api/client.ts";
import { ApiProblem } from "../api/problem.ts";
import type { Playback, Video } from "../api/types.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { Player } from "./player.tsx";

type State =
  | { kind: "loading" }
  | { kind: "failed"; error: unknown }
  | { kind: "ready"; playback: Playback; video: Video | null; requestedAt: number };

/** Why this title does not play, in plain words, and what the viewer can do about it. */
function PlaybackRefusal({ error, onRetry }: { error: ApiProblem; onRetry: () => void }) {
  const wait = error.retryAfterSeconds;
  const messages: Record<number, { title: string; body: string; action: preact.ComponentChildren }> = {
    402: {
      title: "You need a plan to watch",
      body: "Your account has no active subscription, or it has ended. Choose a plan and you can start watching right away.",
      action: (
        <a class="button button-primary" href="/plans">
          See the plans
        </a>
      ),
    },
    409: {
      title: "This title is not ready yet",
      body: "It is still being prepared for streaming. That usually takes a few minutes: try again shortly.",
      action: (
        <button type="button" class="button button-primary" onClick={onRetry}>
          Try again
        </button>
      ),
    },
    429: {
      title: "All your screens are in use",
      body: `Your plan allows a set number of screens at the same time, and all of them are playing now. Stop watching on another device${
        wait !== null ? `, or wait: a screen that stopped frees up within ${wait} s` : ""
      }. Or get a plan with more screens.`,
      action: (
        <>
          <button type="button" class="button button-primary" onClick={onRetry}>
            Try again
          </button>{" "}
          <a class="button" href="/plans">
            Compare plans
          </a>
        </>
      ),
    },
  };
  const message = messages[error.status];
  if (!message) return <ErrorNotice error={error} onRetry={onRetry} />;
  return (
    <div class="notice notice-error refusal" role="alert" data-status={error.status}>
      <h2>{message.title}</h2>
      <p>{message.body}</p>
      {error.problem.detail && <p class="hint">{error.problem.detail}</p>}
      <p>{message.action}</p>
    </div>
  );
}

export function WatchPage({ id }: { id: string }) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const start = useCallback(async () => {
    setState({ kind: "loading" });
    // Startup time, as the viewer sees it, counts from here: the play request and the first segments.
    const requestedAt = performance.now();
    try {
      // The play answer decides (402, 409, 429); the catalog entry only adds the title and storyboard.
      const [playback, video] = await Promise.all([
        api<Playback>(`/v1/videos/${encodeURIComponent(id)}/play`),
        api<{ video: Video }>(`/v1/videos/${encodeURIComponent(id)}`).then(
          (answer) => answer.video,
          () => null,
        ),
      ]);
      setState({ kind: "ready", playback, video, requestedAt });
    } catch (error) {
      setState({ kind: "failed", error });
    }
  }, [id]);
  useEffect(() => {
    void start();
  }, [start]);

  useEffect(() => {
    if (state.kind === "ready" && state.video) document.title = `${state.video.title} · Reelstream`;
  }, [state]);

  if (state.kind === "loading") return <p>Starting…</p>;
  if (state.kind === "failed") {
    return (
      <section class="narrow">
        <h1>Watch</h1>
        {state.error instanceof ApiProblem ? (
          <PlaybackRefusal error={state.error} onRetry={start} />
        ) : (
          <ErrorNotice error={state.error} onRetry={start} />
        )}
      </section>
    );
  }
  return (
    <section class="watch">
      <h1 class="watch-title">{state.video?.title ?? "Now playing"}</h1>
      <Player videoId={id} playback={state.playback} video={state.video} requestedAt={state.requestedAt} onExpired={start} />
      {state.video && (
        <p>
          <a href={`/title/${id}`}>About this title</a>
        </p>
      )}
    </section>
  );
}
