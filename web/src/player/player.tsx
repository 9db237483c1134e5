import type Hls from "hls.js";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api/client.ts";
import type { Playback, Video } from "../api/types.ts";
import { ErrorNotice } from "../ui/error-notice.tsx";
import { clock } from "../ui/format.ts";
import { Icon } from "./icons.tsx";
import { createQoeMeter, QOE_INTERVAL_MS, sendQoeBeacon } from "./qoe.ts";
import { cueAt, parseStoryboard, type StoryboardCue } from "./storyboard.ts";

/** How often a playing player reports its position (it also reports on pause and when hidden). */
const HEARTBEAT_MS = 5000;
const SEEK_STEP_SECONDS = 5;

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

/**
 * The video player: hls.js (loaded here, never before the player) from `resumeAt`, progress
 * heartbeats, a seek bar with storyboard thumbnails, a quality menu of the levels the signed
 * master lists (the plan's cap is already applied), keyboard shortcuts, and quality-of-experience
 * beacons (qoe.ts) measured from `requestedAt`, when the viewer asked to play (`performance.now()`).
 */
export function Player({
  videoId,
  playback,
  video,
  requestedAt,
  onExpired,
}: {
  videoId: string;
  playback: Playback;
  video: Video | null;
  requestedAt: number;
  onExpired: () => void;
}) {
  const container = useRef<HTMLDivElement>(null);
  const media = useRef<HTMLVideoElement>(null);
  const hls = useRef<Hls | null>(null);
  const started = useRef(false);
  /** The position to report: read from the element while it plays (hls.js resets it to 0 when it detaches). */
  const position = useRef(playback.resumeAt);
  const [playing, setPlaying] = useState(false);
  const [time, setTime] = useState(playback.resumeAt);
  const [duration, setDuration] = useState(video?.durationSeconds ?? 0);
  const [muted, setMuted] = useState(false);
  const [levels, setLevels] = useState<Level[]>([]);
  const [level, setLevel] = useState(-1);
  const [playingHeight, setPlayingHeight] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [blocked, setBlocked] = useState(false);
  const [cues, setCues] = useState<StoryboardCue[]>([]);
  const [previewNote, setPreviewNote] = useState("");
  const [preview, setPreview] = useState<{ time: number; left: number } | null>(null);
  const qoe = useMemo(() => createQoeMeter(playback.manifestUrl, requestedAt, sendQoeBeacon), [playback, requestedAt]);

  // hls.js, attached to the element.
  useEffect(() => {
    const element = media.current;
    if (!element) return;
    let cancelled = false;
    let instance: Hls | undefined;
    let expiredOnce = false;
    const play = () => element.play().catch(() => setBlocked(true));
    import("hls.js")
      .then(({ default: HlsPlayer }) => {
        if (cancelled) return;
        if (!HlsPlayer.isSupported()) {
          if (!element.canPlayType("application/vnd.apple.mpegurl"))
            throw new Error("This browser cannot play streaming video (no Media Source Extensions).");
          element.src = playback.manifestUrl;
          element.addEventListener(
            "loadedmetadata",
            () => {
              element.currentTime = playback.resumeAt;
              void play();
            },
            { once: true },
          );
          return;
        }
        instance = new HlsPlayer({ startPosition: playback.resumeAt });
        hls.current = instance;
        instance.on(HlsPlayer.Events.MANIFEST_PARSED, (_event, data) => {
          setLevels(data.levels.map((entry, index) => ({ index, height: entry.height })));
          void play();
        });
        instance.on(HlsPlayer.Events.LEVEL_SWITCHED, (_event, data) => {
          const height = instance?.levels[data.level]?.height;
          setPlayingHeight(height ?? null);
          if (height) qoe.switched(height);
        });
        instance.on(HlsPlayer.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          // 403: the signed URL expired or the session ended; a new play answer says which.
          if (data.response?.code === 403 && !expiredOnce) {
            expiredOnce = true;
            onExpired();
          } else if (data.type === HlsPlayer.ErrorTypes.MEDIA_ERROR) {
            instance?.recoverMediaError();
          } else {
            const { NETWORK_ERROR, KEY_SYSTEM_ERROR } = HlsPlayer.ErrorTypes;
            qoe.fatal(data.type === NETWORK_ERROR ? "network" : data.type === KEY_SYSTEM_ERROR ? "key" : "other");
            qoe.stopped();
            qoe.flush(true);
            setError(new Error(`The stream stopped (${data.details}). Check your connection and try again.`));
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
  }, [playback, onExpired, qoe]);

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

  // Progress heartbeats: they keep the screen lease and feed "continue watching".
  useEffect(() => {
    const element = media.current;
    if (!element) return;
    const report = (keepalive = false) => {
      if (!started.current) return;
      const known = video?.durationSeconds ?? (Number.isFinite(element.duration) ? element.duration : undefined);
      const positionSeconds = known ? Math.min(position.current, known) : position.current;
      api(`/v1/videos/${encodeURIComponent(videoId)}/progress`, { method: "PUT", body: { positionSeconds }, keepalive }).then(
        () => setSaveError(null),
        (failure: unknown) => setSaveError(failure),
      );
    };
    const timer = setInterval(() => !element.paused && !element.ended && report(), HEARTBEAT_MS);
    const onPause = () => {
      if (element.readyState > 0) position.current = element.currentTime;
      report();
    };
    const onHidden = () => document.visibilityState === "hidden" && report(true);
    element.addEventListener("pause", onPause);
    document.addEventListener("visibilitychange", onHidden);
    return () => {
      clearInterval(timer);
      element.removeEventListener("pause", onPause);
      document.removeEventListener("visibilitychange", onHidden);
      report(true);
    };
  }, [videoId, video]);

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

  // Keyboard shortcuts, anywhere on the page.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const element = media.current;
      if (!element || !shortcutTarget(event)) return;
      const actions: Record<string, () => void> = {
        " ": () => toggle(),
        k: () => toggle(),
        ArrowLeft: () => seek(element.currentTime - SEEK_STEP_SECONDS),
        ArrowRight: () => seek(element.currentTime + SEEK_STEP_SECONDS),
        ArrowUp: () => (element.volume = Math.min(1, element.volume + 0.1)),
        ArrowDown: () => (element.volume = Math.max(0, element.volume - 0.1)),
        f: () => fullscreen(),
        m: () => toggleMute(),
      };
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  function toggle() {
    const element = media.current;
    if (!element) return;
    if (element.paused) element.play().catch(() => setBlocked(true));
    else element.pause();
  }
  function toggleMute() {
    if (media.current) media.current.muted = !media.current.muted;
  }
  function seek(to: number) {
    const element = media.current;
    if (element) element.currentTime = Math.max(0, Math.min(to, Number.isFinite(element.duration) ? element.duration : to));
  }
  function fullscreen() {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void container.current?.requestFullscreen?.();
  }
  function chooseLevel(index: number) {
    setLevel(index);
    if (hls.current) hls.current.currentLevel = index;
  }
  function showPreview(seconds: number, bar: HTMLElement) {
    const ratio = duration > 0 ? seconds / duration : 0;
    setPreview({ time: seconds, left: Math.max(0, Math.min(1, ratio)) * bar.clientWidth });
  }

  const cue = preview ? cueAt(cues, preview.time) : undefined;
  const sortedLevels = [...levels].sort((a, b) => b.height - a.height);
  return (
    <div class="player" ref={container}>
      {/* biome-ignore lint/a11y/useMediaCaption: the catalog has no caption tracks yet (docs/api.md has none to offer). */}
      <video
        ref={media}
        class="player-video"
        playsInline
        onClick={toggle}
        onPlaying={() => {
          qoe.playing();
          setPlaying(true);
          setBlocked(false);
          if (!started.current) {
            started.current = true;
            const element = media.current;
            if (element?.requestVideoFrameCallback) element.requestVideoFrameCallback(() => performance.mark("reelstream:first-frame"));
            else performance.mark("reelstream:first-frame");
          }
        }}
        onPause={() => {
          qoe.stopped();
          setPlaying(false);
        }}
        onEnded={() => qoe.stopped()}
        onWaiting={(event) => qoe.waiting(event.currentTarget.seeking)}
        onTimeUpdate={(event) => {
          setTime(event.currentTarget.currentTime);
          // readyState 0: hls.js detached the element (its time reads 0), which is no position.
          if (started.current && event.currentTarget.readyState > 0) position.current = event.currentTarget.currentTime;
        }}
        onDurationChange={(event) => Number.isFinite(event.currentTarget.duration) && setDuration(event.currentTarget.duration)}
        onVolumeChange={(event) => setMuted(event.currentTarget.muted)}
      />
      {blocked && (
        <button type="button" class="button button-primary player-start" onClick={toggle}>
          Start playing
        </button>
      )}
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
        <button type="button" class="control" onClick={toggleMute} aria-label={muted ? "Unmute" : "Mute"}>
          <Icon name={muted ? "muted" : "volume"} />
        </button>
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
        <button type="button" class="control" onClick={fullscreen} aria-label="Full screen">
          <Icon name="fullscreen" />
        </button>
      </div>
      <p class="hint">
        Your plan plays up to {playback.maxHeight}p. Keys: space or k play/pause, ←/→ 5 s back/forward, ↑/↓ volume, f full screen, m mute.
        {previewNote && ` ${previewNote}`}
      </p>
      <ErrorNotice error={error} onRetry={onExpired} />
      {saveError ? (
        <div class="notice" role="status">
          Your place in this title was not saved: {saveError instanceof Error ? saveError.message : String(saveError)} It is tried again in
          a few seconds.
        </div>
      ) : null}
    </div>
  );
}
