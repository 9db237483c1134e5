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

/** Where the title is in the pipeline: state, progress (chunks when the transcoder reports them), the error. */
export function StatusPanel({ status }: { status: AdminVideoStatus }) {
  const { transcode } = status;
  const percent = status.progress === null ? null : Math.round(status.progress * 100);
  return (
    <section class="panel" aria-labelledby="status-heading">
      <h2 id="status-heading">Status</h2>
      <p class={`state state-${status.state}`} data-state={status.state}>
        {stateLabels[status.state] ?? status.state}
      </p>
      {(status.state === "transcoding" || status.state === "uploading") && percent !== null && (
        <div class="upload-progress">
          <progress max={100} value={percent} aria-label={`${stateLabels[status.state]} progress`}>
            {percent}%
          </progress>
          <span>{percent}%</span>
        </div>
      )}
      {transcode && (
        <ul class="transcode" aria-label="Transcoding detail">
          <li>Step: {transcode.step}</li>
          {transcode.chunksTotal > 0 && (
            <li>
              Chunks: {transcode.chunksDone} of {transcode.chunksTotal} done
            </li>
          )}
          {transcode.attempt > 1 && <li>Attempt {transcode.attempt}</li>}
          {transcode.waitingForTranscoder && <li>Waiting for a transcoder to become free…</li>}
        </ul>
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
