import { Container } from "@cloudflare/containers";

/**
 * The transcoder (transcoder/Dockerfile: Node and Debian's ffmpeg) as a Cloudflare Container, one
 * instance per video (`getContainer(env.TRANSCODER, videoId)`), so a retried job meets the
 * instance that may still be finishing its previous attempt (it answers 429, and the job waits).
 * The queue consumer posts jobs to it; the container reads the source and writes renditions
 * through the Worker's `/internal/storage` with a grant scoped to that one job, so it holds no
 * credentials of its own.
 *
 * Only in production (`[[env.production.containers]]` in wrangler.toml): locally the same
 * transcoder runs as a Node process and `TRANSCODER_URL` points at it.
 */
export class TranscoderContainer extends Container<Env> {
  override defaultPort = 8788;
  /** Idle instances stop after this; a job's NDJSON stream keeps its instance awake. */
  override sleepAfter = "10m";
  override enableInternet = true;
}
