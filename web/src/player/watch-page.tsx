import { useCallback, useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "../api/client.ts";
import { ApiProblem } from "../api/problem.ts";
import type { Playback, Video } from "../api/types.ts";
import { describeError } from "../api/words.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { Player } from "./player.tsx";

type State =
  | { kind: "loading" }
  | { kind: "failed"; error: unknown }
  | { kind: "ready"; playback: Playback; video: Video | null; startAt: number; requestedAt: number }
  /** The stream was ended from elsewhere: another device took the screen, or another window of this browser played. */
  | { kind: "stopped"; problem: ApiProblem };

/** Why this title does not play, in plain words, and what the viewer can do about it. */
function PlaybackRefusal({ error, onRetry, onWatchHere }: { error: ApiProblem; onRetry: () => void; onWatchHere: () => void }) {
  if (error.status === 429 && error.problem.code === "too-many-requests" && error.problem.title?.includes("screens")) {
    const wait = error.retryAfterSeconds;
    return (
      <div class="notice notice-error refusal" role="alert" data-status={429}>
        <h2>All your screens are in use</h2>
        <p>
          Your plan allows a set number of screens at the same time, and all of them are playing now. Watch here instead and the one that
          has been idle longest stops (its viewer is told why), or stop watching on another device
          {wait !== null ? ` (a screen that stopped frees up within ${wait} seconds)` : ""}.
        </p>
        <p class="actions">
          <button type="button" class="button button-primary" onClick={onWatchHere}>
            Watch here instead
          </button>
          <button type="button" class="button" onClick={onRetry}>
            Try again
          </button>
          <a class="button" href="/plans">
            Compare plans
          </a>
        </p>
      </div>
    );
  }
  const words = describeError(error, "play");
  const action =
    error.status === 402 ? (
      <a class="button button-primary" href="/plans">
        See the plans
      </a>
    ) : words.retry ? (
      <button type="button" class="button button-primary" onClick={onRetry}>
        Try again
      </button>
    ) : error.status === 404 ? (
      <a class="button button-primary" href="/">
        Go to the home page
      </a>
    ) : null;
  return (
    <div class="notice notice-error refusal" role="alert" data-status={error.status}>
      <h2>{words.title}</h2>
      <p>{words.body}</p>
      {action && <p class="actions">{action}</p>}
    </div>
  );
}

export function WatchPage({ id }: { id: string }) {
  const { query } = useLocation();
  const [state, setState] = useState<State>({ kind: "loading" });
  const start = useCallback(
    async (options: { takeOver?: boolean; from?: number } = {}) => {
      setState({ kind: "loading" });
      // Startup time, as the viewer sees it, counts from here: the play request and the first segments.
      const requestedAt = performance.now();
      try {
        // The play answer decides (402, 409, 429); the catalog entry only adds the title and storyboard.
        const [playback, video] = await Promise.all([
          api<Playback>(`/v1/videos/${encodeURIComponent(id)}/play`, options.takeOver ? { method: "POST" } : {}),
          api<{ video: Video }>(`/v1/videos/${encodeURIComponent(id)}`).then(
            (answer) => answer.video,
            () => null,
          ),
        ]);
        setState({ kind: "ready", playback, video, startAt: options.from ?? playback.resumeAt, requestedAt });
      } catch (error) {
        setState({ kind: "failed", error });
      }
    },
    [id],
  );
  useEffect(() => {
    void start({ from: query.from === "start" ? 0 : undefined });
    // `from` is read once, when the page opens.
  }, [start]);

  useEffect(() => {
    if (state.kind === "ready" && state.video) document.title = `${state.video.title} · Reelstream`;
  }, [state]);

  if (state.kind === "loading") {
    return (
      <section class="watch">
        <h1 class="watch-title">Starting…</h1>
        <div class="player player-placeholder" data-buffering="true">
          <div class="player-buffering" role="status">
            <span class="spinner" aria-hidden="true" />
            <span>Loading…</span>
          </div>
        </div>
      </section>
    );
  }
  if (state.kind === "stopped") {
    const words = describeError(state.problem, "play");
    return (
      <section class="narrow">
        <h1>{words.title}</h1>
        <div class="notice refusal" role="alert" data-code={state.problem.problem.code}>
          <p>{words.body}</p>
          <p class="actions">
            <button type="button" class="button button-primary" onClick={() => start({ takeOver: true })}>
              Watch here
            </button>
            <a class="button" href={`/title/${id}`}>
              About this title
            </a>
          </p>
        </div>
      </section>
    );
  }
  if (state.kind === "failed") {
    return (
      <section class="narrow">
        <h1>Watch</h1>
        {state.error instanceof ApiProblem ? (
          <PlaybackRefusal error={state.error} onRetry={() => start()} onWatchHere={() => start({ takeOver: true })} />
        ) : (
          <ErrorNotice error={state.error} task="play" onRetry={() => start()} />
        )}
      </section>
    );
  }
  return (
    <section class="watch">
      <h1 class="watch-title">{state.video?.title ?? "Now playing"}</h1>
      <Player
        videoId={id}
        playback={state.playback}
        video={state.video}
        startAt={state.startAt}
        requestedAt={state.requestedAt}
        onRestart={(from) => start({ from })}
        onStopped={(problem) => setState({ kind: "stopped", problem })}
      />
      {state.video && (
        <p>
          <a href={`/title/${id}`}>About this title</a>
        </p>
      )}
    </section>
  );
}
