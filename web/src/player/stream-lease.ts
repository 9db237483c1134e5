/**
 * Frees this play's screen: `POST /v1/videos/{id}/play/release` with the play answer's stream
 * token (no Authorization header: `navigator.sendBeacon` cannot send one, and it is what still
 * gets out of a page that is being closed). Carries the bandwidth the player measured, the next
 * play's starting hint. Falls back to a keepalive fetch where there is no sendBeacon.
 */
export function releaseStream(videoId: string, streamToken: string, bandwidthEstimate: number | undefined): void {
  const url = `/v1/videos/${encodeURIComponent(videoId)}/play/release`;
  const estimate =
    bandwidthEstimate && Number.isFinite(bandwidthEstimate) && bandwidthEstimate >= 1000 ? Math.round(bandwidthEstimate) : undefined;
  const body = JSON.stringify({ streamToken, ...(estimate ? { bandwidthEstimate: Math.min(estimate, 10_000_000_000) } : {}) });
  const blob = new Blob([body], { type: "application/json" });
  if (navigator.sendBeacon?.(url, blob)) return;
  void fetch(url, { method: "POST", body, headers: { "Content-Type": "application/json" }, keepalive: true }).catch(() => {
    // The lease lapses by itself within STREAM_LEASE_SECONDS anyway.
  });
}
