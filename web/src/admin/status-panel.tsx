import { useRef } from "preact/hooks";
import type { AdminVideoStatus, QualityReport } from "../api/types.ts";
import { bytes, runtime } from "../ui/format.ts";

const stateLabels: Record<string, string> = {
  "awaiting-upload": "Waiting for the video file",
  uploading: "Uploading",
  queued: "Queued for transcoding",
  transcoding: "Transcoding",
  ready: "Ready: viewers can watch it",
  failed: "Failed",
};

/** Hidden but keeping its space: a line that was shown while this page watched does not collapse. */
const held = (shown: boolean) => (shown ? undefined : { visibility: "hidden" as const });

/**
 * Where the title is in the pipeline: state, progress (chunks when the transcoder reports them), the
 * error. Once this page has shown the progress lines they keep their space when the work ends, so
 * the panels below do not jump up (layout shift, docs/web.md).
 */
export function StatusPanel({ status }: { status: AdminVideoStatus }) {
  const { transcode } = status;
  const percent = status.progress === null ? null : Math.round(status.progress * 100);
  const showProgress = (status.state === "transcoding" || status.state === "uploading") && percent !== null;
  const sawProgress = useRef(false);
  const sawTranscode = useRef(false);
  sawProgress.current ||= showProgress;
  sawTranscode.current ||= transcode !== null && transcode !== undefined;
  return (
    <section class="panel" aria-labelledby="status-heading">
      <h2 id="status-heading">Status</h2>
      <p class={`state state-${status.state}`} data-state={status.state}>
        {stateLabels[status.state] ?? status.state}
      </p>
      {(showProgress || sawProgress.current) && (
        <div class="upload-progress" style={held(showProgress)}>
          <progress max={100} value={percent ?? 100} aria-label={`${stateLabels[status.state]} progress`}>
            {percent ?? 100}%
          </progress>
          <span>{percent ?? 100}%</span>
        </div>
      )}
      {transcode ? (
        <ul class="transcode" aria-label="Transcoding detail">
          <li>Step: {transcode.step}</li>
          {(transcode.chunksTotal > 0 || sawTranscode.current) && (
            <li style={held(transcode.chunksTotal > 0)}>
              Chunks: {transcode.chunksDone} of {transcode.chunksTotal} done
            </li>
          )}
          {transcode.attempt > 1 && <li>Attempt {transcode.attempt}</li>}
          {transcode.waitingForTranscoder && <li>Waiting for a transcoder to become free…</li>}
        </ul>
      ) : (
        sawTranscode.current && (
          <ul class="transcode" style={held(false)}>
            <li>Step</li>
            <li>Chunks</li>
          </ul>
        )
      )}
      {status.error && (
        <p class="field-error" role="alert">
          {status.error}
        </p>
      )}
    </section>
  );
}

/** The transcoder's quality report and the renditions it made. */
export function QualityReportPanel({ status }: { status: AdminVideoStatus }) {
  // The API's schema keeps the report an open record; what the transcoder stored is its QualityReport.
  const report = status.qualityReport as QualityReport | null;
  if (!report && status.renditions.length === 0) return null;
  const source = report?.source;
  const facts: [string, string][] = source
    ? [
        ["Container", source.container],
        [
          "Picture",
          `${source.width}×${source.height}, ${source.fps} fps${source.interlaced ? ", interlaced" : ""}${source.variableFrameRate ? ", variable frame rate" : ""}`,
        ],
        ["Video codec", source.videoCodec],
        ["Audio codec", source.audioCodec ?? "none"],
        ["Duration", runtime(source.durationSeconds)],
        ["Bitrate", source.bitrate ? `${bytes(source.bitrate / 8)}/s` : "unknown"],
      ]
    : [];
  return (
    <section class="panel" aria-labelledby="quality-heading">
      <h2 id="quality-heading">Quality report</h2>
      {report && <p>{!report.ok ? `Refused: ${report.refusal ?? "the source cannot be used"}` : "The source passed the quality check."}</p>}
      {facts.length > 0 && (
        <dl class="facts">
          {facts.map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      )}
      {report?.warnings && report.warnings.length > 0 && (
        <>
          <h3>Warnings</h3>
          <ul>
            {report.warnings.map((warning) => (
              <li key={warning.code}>{warning.message}</li>
            ))}
          </ul>
        </>
      )}
      {status.renditions.length > 0 && (
        <table class="renditions">
          <caption>Renditions</caption>
          <thead>
            <tr>
              <th scope="col">Height</th>
              <th scope="col">Bitrate</th>
              <th scope="col">Codec</th>
            </tr>
          </thead>
          <tbody>
            {[...status.renditions]
              .sort((a, b) => b.height - a.height)
              .map((rendition) => (
                <tr key={rendition.height}>
                  <td>{rendition.height}p</td>
                  <td>{Math.round(rendition.bitrate / 1000)} kbit/s</td>
                  <td>{rendition.codec}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
