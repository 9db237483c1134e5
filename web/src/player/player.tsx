import type Hls from "hls.js";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api/client.ts";
import { ApiProblem, NetworkError, problemFrom } from "../api/problem.ts";
import type { Playback, Video, VideoPage } from "../api/types.ts";
import { describeError } from "../api/words.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { clock } from "../ui/format.ts";
import { Poster } from "../ui/poster.tsx";
import { Icon } from "./icons.tsx";
import { createQoeMeter, QOE_INTERVAL_MS, sendQoeBeacon } from "./qoe.ts";
import { chooseStartLevel, startingBandwidth } from "./start-level.ts";
import { cueAt, parseStoryboard, type StoryboardCue } from "./storyboard.ts";
import { releaseStream } from "./stream-lease.ts";

/** How often a playing player reports its position (it also reports on pause and when hidden). */
const HEARTBEAT_MS = 5000;
const SEEK_STEP_SECONDS = 5;
/** A double tap on a touch screen jumps this far back (left half) or forward (right half). */
const DOUBLE_TAP_SECONDS = 10;
const DOUBLE_TAP_MS = 300;
/** Paused this long, the player gives its screen back (another device can play); Play asks for it again. */
export const LONG_PAUSE_MS = 30_000;
/** A place that could not be saved is tried again after this long, doubling, and at once when the network is back. */
const SAVE_RETRY_MS = [2000, 4000, 8000, 15000, 30000];
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];

interface Level {
  index: number;
  height: number;
}

/** Shortcuts are for the player, not for a field or a control that already answers that key. */
function shortcutTarget(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  if (event.ctrlKey || event.metaKey || event.altKey) return false;
  if (target?.closest("input[type=text], input[type=search], textarea, select, [contenteditable]")) return false;
  const arrowsOrSpace = event.key === " " || event.key.startsWith("Arrow");
  return !(arrowsOrSpace && target?.closest("button, a, input"));
}

/** Why the media refused a request (403): the problem's `code`, read from the refused URL. */
async function refusalOf(url: string | undefined): Promise<ApiProblem | null> {
  if (!url) return null;
  try {
    const response = await fetch(url);
    return response.status === 403 ? await problemFrom(response) : null;
  } catch {
    return null;
  }
}

/** More like this: other titles of the first genre, for the end screen. */
function useMoreLikeThis(video: Video | null, show: boolean) {
  const [items, setItems] = useState<Video[] | VideoPage["items"]>([]);
  useEffect(() => {
    const genre = video?.genres[0];
    if (!show || !video) return;
    const query = genre ? `&genre=${encodeURIComponent(genre)}` : "";
    api<VideoPage>(`/v1/videos?limit=7${query}`).then(
      (page) => setItems(page.items.filter((item) => item.id !== video.id).slice(0, 6)),
      () => setItems([]),
    );
  }, [video, show]);
  return items;
}

/**
 * The video player: hls.js (loaded here, never before the player) starting at a rendition that
 * fits the player and the bandwidth, progress heartbeats that are saved again once the network is
 * back, the screen given back when the viewer stops (long pause, leaving, the end, the page hidden),
 * a buffering state, an end screen, controls for mouse, keyboard and touch, and quality-of-experience
 * beacons (qoe.ts) measured from `requestedAt`, when the viewer asked to play (`performance.now()`).
 */
export function Player({
  videoId,
  playback,
  video,
  startAt,
  requestedAt,
  onRestart,
  onStopped,
}: {
  videoId: string;
  playback: Playback;
  video: Video | null;
  /** Where to start: the play answer's `resumeAt`, or 0 to start over. */
  startAt: number;
  /** When the viewer asked to play (`performance.now()`): the QoE meter's startup time counts from here. */
  requestedAt: number;
  /** A new play answer is needed (the screen was given back, or the signed URL ran out); `from`: where to start. */
  onRestart: (from?: number) => void;
  /** The stream was ended from elsewhere (taken over, or replaced by another window): the page says why. */
  onStopped: (problem: ApiProblem) => void;
}) {
  const container = useRef<HTMLDivElement>(null);
  const media = useRef<HTMLVideoElement>(null);
  const hls = useRef<Hls | null>(null);
  const started = useRef(false);
  const released = useRef(false);
  /** hls.js's bandwidth estimate (bits per second) as of the last fragment: sent with the release, the next play's hint. */
  const measured = useRef<number | undefined>(undefined);
  /** The position to report: read from the element while it plays (hls.js resets it to 0 when it detaches). */
  const position = useRef(startAt);
  const [playing, setPlaying] = useState(false);
  const [buffering, setBuffering] = useState(true);
  const [ended, setEnded] = useState(false);
  const [time, setTime] = useState(startAt);
  const [duration, setDuration] = useState(video?.durationSeconds ?? 0);
  const [muted, setMuted] = useState(false);
  const [volume, setVolume] = useState(1);
  const [speed, setSpeed] = useState(1);
  const [levels, setLevels] = useState<Level[]>([]);
  const [level, setLevel] = useState(-1);
  const [playingHeight, setPlayingHeight] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [blocked, setBlocked] = useState(false);
  const [cues, setCues] = useState<StoryboardCue[]>([]);
  const [previewNote, setPreviewNote] = useState("");
  const [preview, setPreview] = useState<{ time: number; left: number } | null>(null);
  const [keyboard, setKeyboard] = useState(() => matchMedia("(pointer: fine)").matches);
  const [jump, setJump] = useState<string | null>(null);
  const moreLikeThis = useMoreLikeThis(video, ended);
  const callbacks = useRef({ onRestart, onStopped });
  callbacks.current = { onRestart, onStopped };
  const qoe = useMemo(() => createQoeMeter(playback.manifestUrl, requestedAt, sendQoeBeacon), [playback, requestedAt]);

  /** Gives the screen back at once (idempotent per play). */
  const release = () => {
    if (released.current) return;
    released.current = true;
    releaseStream(videoId, playback.streamToken, hls.current?.bandwidthEstimate ?? measured.current);
  };

  // hls.js, attached to the element, starting at a rendition that fits.
  useEffect(() => {
    const element = media.current;
    if (!element) return;
    let cancelled = false;
    let instance: Hls | undefined;
    let restartedOnce = false;
    const play = () => element.play().catch(() => setBlocked(true));
    const bandwidth = startingBandwidth(playback.bandwidthEstimate);
    import("hls.js")
      .then(({ default: HlsPlayer }) => {
        if (cancelled) return;
        if (!HlsPlayer.isSupported()) {
          if (!element.canPlayType("application/vnd.apple.mpegurl")) throw new Error("no Media Source Extensions");
          element.src = playback.manifestUrl;
          element.addEventListener(
            "loadedmetadata",
            () => {
              element.currentTime = startAt;
              void play();
            },
            { once: true },
          );
          return;
        }
        instance = new HlsPlayer({
          startPosition: startAt,
          autoStartLoad: false,
          capLevelToPlayerSize: true,
          abrEwmaDefaultEstimate: bandwidth,
          testBandwidth: false,
        });
        hls.current = instance;
        instance.on(HlsPlayer.Events.MANIFEST_PARSED, (_event, data) => {
          setLevels(data.levels.map((entry, index) => ({ index, height: entry.height })));
          const ratio = devicePixelRatio || 1;
          const start = chooseStartLevel(
            data.levels,
            { width: element.clientWidth * ratio, height: element.clientHeight * ratio },
            bandwidth,
          );
          if (instance && start >= 0) instance.startLevel = start;
          instance?.startLoad(startAt);
          void play();
        });
        instance.on(HlsPlayer.Events.FRAG_BUFFERED, () => {
          measured.current = instance?.bandwidthEstimate;
        });
        instance.on(HlsPlayer.Events.LEVEL_SWITCHED, (_event, data) => {
          const height = instance?.levels[data.level]?.height;
          setPlayingHeight(height ?? null);
          if (height) qoe.switched(height);
        });
        instance.on(HlsPlayer.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          if (data.response?.code === 403) {
            // Why the media refused decides what happens: a screen taken by another device is not taken back by itself.
            void refusalOf(data.frag?.url ?? data.url ?? data.context?.url).then((problem) => {
              const code = problem?.problem.code;
              if (problem && (code === "stream-taken-over" || code === "stream-replaced")) callbacks.current.onStopped(problem);
              else if (!restartedOnce) {
                restartedOnce = true;
                callbacks.current.onRestart(position.current);
              } else setError(problem ?? new Error("refused"));
            });
          } else if (data.type === HlsPlayer.ErrorTypes.MEDIA_ERROR) {
            instance?.recoverMediaError();
          } else {
            const { NETWORK_ERROR, KEY_SYSTEM_ERROR } = HlsPlayer.ErrorTypes;
            qoe.fatal(data.type === NETWORK_ERROR ? "network" : data.type === KEY_SYSTEM_ERROR ? "key" : "other");
            qoe.stopped();
            qoe.flush(true);
            setError(data.type === NETWORK_ERROR ? new NetworkError(data.details) : new Error(data.details));
          }
        });
        instance.loadSource(playback.manifestUrl);
        instance.attachMedia(element);
      })
      .catch((failure: unknown) => setError(failure));
    return () => {
      cancelled = true;
      instance?.destroy();
      hls.current = null;
    };
  }, [playback, startAt, qoe]);

  // Quality-of-experience beacons: every QOE_INTERVAL_MS while there is news, and at the end.
  useEffect(() => {
    const timer = setInterval(() => qoe.flush(), QOE_INTERVAL_MS);
    const onHidden = () => document.visibilityState === "hidden" && qoe.flush(true);
    document.addEventListener("visibilitychange", onHidden);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onHidden);
      qoe.stopped();
      qoe.flush(true);
    };
  }, [qoe]);

  // Progress heartbeats (they keep the screen and feed "continue watching"), saved again when they fail.
  useEffect(() => {
    const element = media.current;
    if (!element) return;
    let pending: number | null = null;
    let attempt = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const save = (keepalive = false) => {
      if (pending === null) return;
      const known = video?.durationSeconds ?? (Number.isFinite(element.duration) ? element.duration : undefined);
      const positionSeconds = known ? Math.min(pending, known) : pending;
      const sent = pending;
      clearTimeout(retry);
      api(`/v1/videos/${encodeURIComponent(videoId)}/progress`, { method: "PUT", body: { positionSeconds }, keepalive }).then(
        () => {
          if (pending === sent) pending = null;
          attempt = 0;
          setSaveError(null);
        },
        (failure: unknown) => {
          if (failure instanceof ApiProblem && failure.problem.code?.startsWith("stream-")) {
            pending = null;
            element.pause();
            callbacks.current.onStopped(failure);
            return;
          }
          setSaveError(failure);
          // A title removed mid-play cannot be saved again; anything else is tried again, and at once when back online.
          if (failure instanceof ApiProblem && failure.status === 404) pending = null;
          else retry = setTimeout(() => save(), SAVE_RETRY_MS[Math.min(attempt++, SAVE_RETRY_MS.length - 1)]);
        },
      );
    };
    const report = (keepalive = false) => {
      if (!started.current || released.current) return;
      pending = position.current;
      save(keepalive);
    };
    const timer = setInterval(() => !element.paused && !element.ended && report(), HEARTBEAT_MS);
    const onPause = () => {
      if (element.readyState > 0) position.current = element.currentTime;
      report();
    };
    const online = () => save();
    const onHidden = () => {
      if (document.visibilityState !== "hidden") return;
      report(true);
      if (element.paused) release();
    };
    const onPageHide = () => {
      report(true);
      release();
    };
    // Playing again after a pause says so at once: the screen is renewed, or the player learns it was taken.
    const onPlay = () => started.current && report();
    element.addEventListener("pause", onPause);
    element.addEventListener("play", onPlay);
    addEventListener("online", online);
    addEventListener("pagehide", onPageHide);
    document.addEventListener("visibilitychange", onHidden);
    return () => {
      clearInterval(timer);
      clearTimeout(retry);
      element.removeEventListener("pause", onPause);
      element.removeEventListener("play", onPlay);
      removeEventListener("online", online);
      removeEventListener("pagehide", onPageHide);
      document.removeEventListener("visibilitychange", onHidden);
      report(true);
      release();
    };
  }, [videoId, video, playback]);

  // Paused for long, the screen goes back; playing again asks for it (a new play answer, same place).
  useEffect(() => {
    if (playing || !started.current || ended) return;
    const timer = setTimeout(release, LONG_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [playing, ended]);

  // The storyboard: a WebVTT of sprite tiles, fetched once.
  useEffect(() => {
    const url = video?.thumbnailsUrl;
    if (!url) return;
    fetch(url)
      .then((response) => (response.ok ? response.text() : Promise.reject(new Error(String(response.status)))))
      .then((text) => {
        const parsed = parseStoryboard(text, url);
        // The sprite is one image for many tiles: fetched now, the first scrub shows it at once.
        for (const image of new Set(parsed.map((cue) => cue.image))) new Image().src = image;
        setCues(parsed);
      })
      .catch(() => setPreviewNote("Previews are not available right now; seeking still works."));
  }, [video]);

  // Keyboard shortcuts, anywhere on the page; a key press also shows the shortcuts' hint.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      setKeyboard(true);
      const element = media.current;
      if (!element || !shortcutTarget(event)) return;
      const actions: Record<string, () => void> = {
        " ": () => toggle(),
        k: () => toggle(),
        ArrowLeft: () => seek(element.currentTime - SEEK_STEP_SECONDS),
        ArrowRight: () => seek(element.currentTime + SEEK_STEP_SECONDS),
        ArrowUp: () => changeVolume(element.volume + 0.1),
        ArrowDown: () => changeVolume(element.volume - 0.1),
        f: () => fullscreen(),
        m: () => toggleMute(),
      };
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    const onPointer = (event: PointerEvent) => event.pointerType === "touch" && setKeyboard(false);
    addEventListener("keydown", onKey);
    addEventListener("pointerdown", onPointer);
    return () => {
      removeEventListener("keydown", onKey);
      removeEventListener("pointerdown", onPointer);
    };
  }, []);

  function toggle() {
    const element = media.current;
    if (!element) return;
    if (released.current || ended) {
      // The screen was given back (a long pause) or the title ended: ask for it again, from here.
      callbacks.current.onRestart(ended ? 0 : position.current);
      return;
    }
    if (element.paused) element.play().catch(() => setBlocked(true));
    else element.pause();
  }
  function toggleMute() {
    if (media.current) media.current.muted = !media.current.muted;
  }
  function changeVolume(value: number) {
    const element = media.current;
    if (!element) return;
    element.volume = Math.max(0, Math.min(1, value));
    element.muted = element.volume === 0;
  }
  function finish() {
    qoe.stopped();
    media.current?.pause();
    setEnded(true);
    setPlaying(false);
    setBuffering(false);
    release();
  }
  function seek(to: number) {
    const element = media.current;
    if (element) element.currentTime = Math.max(0, Math.min(to, Number.isFinite(element.duration) ? element.duration : to));
  }
  function fullscreen() {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void container.current?.requestFullscreen?.();
  }
  function pictureInPicture() {
    const element = media.current;
    if (!element) return;
    if (document.pictureInPictureElement) void document.exitPictureInPicture();
    else void element.requestPictureInPicture?.().catch(() => undefined);
  }
  function chooseLevel(index: number) {
    setLevel(index);
    if (hls.current) hls.current.currentLevel = index;
  }
  function chooseSpeed(value: number) {
    setSpeed(value);
    if (media.current) media.current.playbackRate = value;
  }
  function showPreview(seconds: number, bar: HTMLElement) {
    const ratio = duration > 0 ? seconds / duration : 0;
    setPreview({ time: seconds, left: Math.max(0, Math.min(1, ratio)) * bar.clientWidth });
  }

  // Touch: one tap plays or pauses, two quick taps jump 10 s back (left half) or forward (right half).
  const lastTap = useRef<{ at: number; timer?: ReturnType<typeof setTimeout> }>({ at: 0 });
  function onVideoPointerUp(event: PointerEvent) {
    if (event.pointerType !== "touch") return;
    event.preventDefault();
    const now = event.timeStamp;
    const tap = lastTap.current;
    if (now - tap.at < DOUBLE_TAP_MS) {
      clearTimeout(tap.timer);
      tap.at = 0;
      const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
      const forward = event.clientX > box.left + box.width / 2;
      const element = media.current;
      if (element) seek(element.currentTime + (forward ? DOUBLE_TAP_SECONDS : -DOUBLE_TAP_SECONDS));
      setJump(forward ? `+${DOUBLE_TAP_SECONDS} s` : `−${DOUBLE_TAP_SECONDS} s`);
      setTimeout(() => setJump(null), 600);
      return;
    }
    tap.at = now;
    tap.timer = setTimeout(toggle, DOUBLE_TAP_MS);
  }

  const cue = preview ? cueAt(cues, preview.time) : undefined;
  const sortedLevels = [...levels].sort((a, b) => b.height - a.height);
  const saveWords = saveError ? describeError(saveError, "save-place") : null;
  const canPictureInPicture = typeof document !== "undefined" && document.pictureInPictureEnabled;
  return (
    <div class="player" ref={container} data-buffering={buffering && !ended ? "true" : undefined}>
      <div class="player-stage">
        {/* biome-ignore lint/a11y/useMediaCaption: the catalog has no caption tracks yet (docs/api.md has none to offer). */}
        <video
          ref={media}
          class="player-video"
          playsInline
          onClick={(event) => (event as unknown as PointerEvent).pointerType !== "touch" && toggle()}
          onPointerUp={(event) => onVideoPointerUp(event as unknown as PointerEvent)}
          onPlaying={() => {
            qoe.playing();
            setPlaying(true);
            setBuffering(false);
            setBlocked(false);
            setEnded(false);
            if (!started.current) {
              started.current = true;
              const element = media.current;
              if (element?.requestVideoFrameCallback) element.requestVideoFrameCallback(() => performance.mark("reelstream:first-frame"));
              else performance.mark("reelstream:first-frame");
            }
          }}
          onWaiting={(event) => {
            // Waiting within half a second of the end is the end: MSE can stop short of the duration
            // (audio and video ending a frame apart), and would wait there for ever.
            const element = event.currentTarget;
            if (started.current && Number.isFinite(element.duration) && element.duration - element.currentTime < 0.5) finish();
            else {
              qoe.waiting(element.seeking);
              setBuffering(true);
            }
          }}
          onCanPlay={() => started.current && setBuffering(false)}
          onPause={() => {
            qoe.stopped();
            setPlaying(false);
          }}
          onEnded={finish}
          onTimeUpdate={(event) => {
            setTime(event.currentTarget.currentTime);
            // readyState 0: hls.js detached the element (its time reads 0), which is no position.
            if (started.current && event.currentTarget.readyState > 0) position.current = event.currentTarget.currentTime;
          }}
          onDurationChange={(event) => Number.isFinite(event.currentTarget.duration) && setDuration(event.currentTarget.duration)}
          onVolumeChange={(event) => {
            setMuted(event.currentTarget.muted);
            setVolume(event.currentTarget.volume);
          }}
        />
        {buffering && !ended && !blocked && (
          <div class="player-buffering" role="status">
            <span class="spinner" aria-hidden="true" />
            <span>{started.current ? "Buffering…" : "Loading…"}</span>
          </div>
        )}
        {jump && (
          <div class="player-jump" aria-hidden="true">
            {jump}
          </div>
        )}
        {blocked && (
          <button type="button" class="button button-primary player-start" onClick={toggle}>
            Start playing
          </button>
        )}
        {ended && (
          <section class="player-end" aria-labelledby="end-heading">
            <h2 id="end-heading">{video ? `You watched “${video.title}”` : "The end"}</h2>
            <p class="actions">
              <button type="button" class="button button-primary" onClick={() => callbacks.current.onRestart(0)}>
                Watch again
              </button>
              <a class="button" href="/">
                Back to home
              </a>
            </p>
            {moreLikeThis.length > 0 && (
              <>
                <h3>More like this</h3>
                <ul class="end-titles">
                  {moreLikeThis.map((item) => (
                    <li key={item.id}>
                      <a class="card" href={`/title/${item.id}`}>
                        <span class="card-poster">
                          <Poster video={item} class="poster" sizes="10rem" />
                        </span>
                        <span class="card-title">{item.title}</span>
                      </a>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </section>
        )}
      </div>
      <div class="player-controls">
        <button type="button" class="control" onClick={toggle} aria-label={playing ? "Pause" : "Play"}>
          <Icon name={playing ? "pause" : "play"} />
        </button>
        <div class="seek">
          {preview && (
            <div class="storyboard" style={{ left: `${preview.left}px` }} aria-hidden="true">
              {cue && (
                <div
                  class="storyboard-image"
                  style={{
                    width: `${cue.width}px`,
                    height: `${cue.height}px`,
                    backgroundImage: `url("${cue.image}")`,
                    backgroundPosition: `-${cue.x}px -${cue.y}px`,
                  }}
                />
              )}
              <span>{clock(preview.time)}</span>
            </div>
          )}
          <input
            type="range"
            class="seek-bar"
            aria-label="Seek"
            aria-valuetext={`${clock(time)} of ${clock(duration)}`}
            min={0}
            max={duration || 0}
            step={0.1}
            value={time}
            onInput={(event) => {
              const seconds = Number(event.currentTarget.value);
              setTime(seconds);
              showPreview(seconds, event.currentTarget);
            }}
            onChange={(event) => {
              seek(Number(event.currentTarget.value));
              setPreview(null);
            }}
            onPointerMove={(event) => {
              const bar = event.currentTarget;
              const box = bar.getBoundingClientRect();
              showPreview(((event.clientX - box.left) / box.width) * duration, bar);
            }}
            onPointerLeave={() => setPreview(null)}
            onBlur={() => setPreview(null)}
          />
        </div>
        <span class="time" aria-hidden="true">
          {clock(time)} / {clock(duration)}
        </span>
        <div class="control-group">
          <button type="button" class="control" onClick={toggleMute} aria-label={muted ? "Unmute" : "Mute"}>
            <Icon name={muted ? "muted" : "volume"} />
          </button>
          <input
            type="range"
            class="volume-bar"
            aria-label="Volume"
            aria-valuetext={`${Math.round((muted ? 0 : volume) * 100)}%`}
            min={0}
            max={1}
            step={0.05}
            value={muted ? 0 : volume}
            onInput={(event) => changeVolume(Number(event.currentTarget.value))}
          />
        </div>
        <label class="quality">
          <span>Speed</span>
          <select value={speed} onChange={(event) => chooseSpeed(Number(event.currentTarget.value))}>
            {SPEEDS.map((value) => (
              <option key={value} value={value}>
                {value === 1 ? "Normal" : `${value}×`}
              </option>
            ))}
          </select>
        </label>
        <label class="quality">
          <span>Quality</span>
          <select value={level} onChange={(event) => chooseLevel(Number(event.currentTarget.value))} disabled={levels.length === 0}>
            <option value={-1}>Auto{level === -1 && playingHeight ? ` (${playingHeight}p)` : ""}</option>
            {sortedLevels.map((entry) => (
              <option key={entry.index} value={entry.index}>
                {entry.height}p
              </option>
            ))}
          </select>
        </label>
        {canPictureInPicture && (
          <button type="button" class="control" onClick={pictureInPicture} aria-label="Picture in picture">
            <Icon name="pip" />
          </button>
        )}
        <button type="button" class="control" onClick={fullscreen} aria-label="Full screen">
          <Icon name="fullscreen" />
        </button>
      </div>
      <p class="hint">
        Your plan plays up to {playback.maxHeight}p.
        {keyboard && " Keys: space or k play/pause, ←/→ 5 s back/forward, ↑/↓ volume, f full screen, m mute."}
        {!keyboard && " Double-tap the left or right of the picture to jump 10 s."}
        {previewNote && ` ${previewNote}`}
      </p>
      <ErrorNotice error={error} task="play" onRetry={() => onRestart(position.current)} />
      {saveWords ? (
        <div class="notice" role="status" data-save-error>
          {saveError instanceof ApiProblem && saveError.status === 404
            ? `${saveWords.title}. ${saveWords.body}`
            : `Your place is not saved yet: ${saveError instanceof NetworkError ? "no connection" : saveWords.title.toLowerCase()}. It is saved as soon as Reelstream can be reached again.`}
        </div>
      ) : null}
    </div>
  );
}
