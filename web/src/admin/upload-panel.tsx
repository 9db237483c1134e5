import { useEffect, useRef, useState } from "preact/hooks";
import { defaultOptions, type PreviousUpload, Upload } from "tus-js-client";
import { freshAccessToken } from "../api/client.ts";
import { ApiProblem, type Problem } from "../api/problem.ts";
import { describeError } from "../api/words.ts";
import { bytes } from "../ui/format.ts";

/** R2 multipart parts are 8 MiB; chunks of that size are stored as they arrive (README "Uploads"). */
const CHUNK_SIZE = 8 * 1024 * 1024;

type Phase = "idle" | "uploading" | "paused" | "done" | "failed";

/** A failed tus request in the app's words (web/src/api/words.ts), else a dropped connection. */
function uploadErrorMessage(error: Error): string {
  const response = (error as Error & { originalResponse?: { getBody(): string; getStatus(): number } | null }).originalResponse;
  if (response) {
    let problem: Partial<Problem> = {};
    try {
      problem = JSON.parse(response.getBody()) as Partial<Problem>;
    } catch {
      // not JSON: the status decides
    }
    const words = describeError(new ApiProblem({ ...problem, title: problem.title ?? "", status: response.getStatus() }), "upload");
    return `${words.title}. ${words.body}`;
  }
  return "The connection dropped. Press Resume to go on from where the upload stopped.";
}

/**
 * The source upload, with tus-js-client: a progress bar, pause and resume, and resume after a
 * page reload (tus-js-client keeps each upload's URL in localStorage under the file's fingerprint;
 * choosing the same file again goes on from the server's offset).
 */
export function UploadPanel({ videoId, onFinished }: { videoId: string; onFinished: () => void }) {
  const [phase, setPhase] = useState<Phase>("idle");
  const [sent, setSent] = useState(0);
  const [total, setTotal] = useState(0);
  const [message, setMessage] = useState("");
  const [interrupted, setInterrupted] = useState<PreviousUpload[]>([]);
  const upload = useRef<Upload | null>(null);

  // Uploads of this title that a reload or a closed tab interrupted.
  useEffect(() => {
    defaultOptions.urlStorage
      .findAllUploads()
      .then((uploads) => setInterrupted(uploads.filter((item) => item.metadata.videoId === videoId)))
      .catch(() => setInterrupted([]));
  }, [videoId]);

  useEffect(() => () => void upload.current?.abort(), []);

  async function start(file: File) {
    setMessage("");
    const next = new Upload(file, {
      endpoint: `${location.origin}/v1/admin/videos/${videoId}/uploads`,
      chunkSize: CHUNK_SIZE,
      retryDelays: [0, 1000, 3000, 5000],
      metadata: { filename: file.name, filetype: file.type, videoId },
      removeFingerprintOnSuccess: true,
      // Every request (they go on for minutes) gets a token that is good now.
      onBeforeRequest: async (request) => request.setHeader("Authorization", `Bearer ${await freshAccessToken()}`),
      onAfterResponse: (request, response) => {
        if (request.getMethod() === "HEAD" && response.getStatus() === 200) {
          const offset = Number(response.getHeader("Upload-Offset"));
          if (offset > 0) setMessage(`Resuming: ${bytes(offset)} of ${bytes(file.size)} were already uploaded.`);
        }
      },
      onProgress: (bytesSent, bytesTotal) => {
        setSent(bytesSent);
        setTotal(bytesTotal);
      },
      onSuccess: () => {
        setPhase("done");
        setInterrupted([]);
        setMessage("Upload complete. Transcoding starts in a moment.");
        onFinished();
      },
      onError: (error) => {
        setPhase("failed");
        setMessage(uploadErrorMessage(error));
      },
    });
    upload.current = next;
    setTotal(file.size);
    setSent(0);
    const previous = await next.findPreviousUploads();
    if (previous[0]) next.resumeFromPreviousUpload(previous[0]);
    setPhase("uploading");
    next.start();
  }

  function pause() {
    void upload.current?.abort();
    setPhase("paused");
    setMessage("Paused. The bytes sent so far are kept on the server.");
  }
  function resume() {
    setPhase("uploading");
    setMessage("");
    upload.current?.start();
  }

  const percent = total > 0 ? Math.floor((sent / total) * 100) : 0;
  const first = interrupted[0];
  return (
    <section class="panel" aria-labelledby="upload-heading">
      <h2 id="upload-heading">Upload the video file</h2>
      {first && phase === "idle" && (
        <p class="notice" role="status">
          An upload of {first.metadata.filename ?? "a file"} ({first.size ? bytes(first.size) : "unknown size"}) was interrupted. Choose the
          same file to go on from where it stopped.
        </p>
      )}
      <label for="source-file">Video file</label>
      <input
        id="source-file"
        type="file"
        accept="video/*,.mkv,.mov,.mp4"
        disabled={phase === "uploading" || phase === "paused" || phase === "done"}
        onChange={(event) => {
          const file = event.currentTarget.files?.[0];
          if (file) void start(file);
        }}
      />
      {phase !== "idle" && (
        <div class="upload-progress">
          <progress id="upload-bar" max={100} value={percent} aria-label="Upload progress">
            {percent}%
          </progress>
          <span>
            {percent}% · {bytes(sent)} of {bytes(total)}
          </span>
        </div>
      )}
      <p class="actions">
        {phase === "uploading" && (
          <button type="button" class="button" onClick={pause}>
            Pause
          </button>
        )}
        {(phase === "paused" || phase === "failed") && upload.current && (
          <button type="button" class="button button-primary" onClick={resume}>
            Resume
          </button>
        )}
      </p>
      <p role={phase === "failed" ? "alert" : "status"} class={phase === "failed" ? "field-error" : "status-line"}>
        {message}
      </p>
    </section>
  );
}
