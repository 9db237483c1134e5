import { Container } from "@cloudflare/containers";
import {
  type ContainerInstanceType,
  containerInstanceTypes,
  instanceScratchBytes,
  isContainerInstanceType,
} from "../workers/platform/container-instances.ts";

/**
 * The transcoder (transcoder/Dockerfile: Node and Debian's ffmpeg) as a Cloudflare Container:
 * instances `transcoder-0` … `transcoder-{TRANSCODER_MAX_INSTANCES - 1}`, each running one task at
 * a time (workers/transcoding/transcoders.ts). The Worker dispatches a task with one request that
 * the transcoder answers at once; the task then reads the master and writes its outputs through
 * the Worker's `/internal/storage` with a grant for that attempt, and reports to
 * `/internal/transcode/callback`, so it holds no credentials of its own.
 *
 * Only in production (`[[env.production.containers]]` in wrangler.toml): locally the same
 * transcoder runs as Node processes and `TRANSCODER_URLS` points at them.
 */
export class TranscoderContainer extends Container<Env> {
  override defaultPort = 8788;
  /** An instance with no task for this long stops (scale to zero); one with a task is kept (see below). */
  override sleepAfter = "2m";
  override enableInternet = true;

  constructor(ctx: ConstructorParameters<typeof Container<Env>>[0], env: Env) {
    super(ctx, env);
    const type: ContainerInstanceType = isContainerInstanceType(env.TRANSCODER_INSTANCE_TYPE ?? "")
      ? (env.TRANSCODER_INSTANCE_TYPE as ContainerInstanceType)
      : "standard-4";
    // The transcoder holds every task to the instance's disk (TRANSCODER_SCRATCH_BYTES), and
    // ffmpeg's x264 uses the instance's cores.
    this.envVars = {
      TRANSCODER_SCRATCH_BYTES: String(instanceScratchBytes(type)),
      TRANSCODER_INSTANCE_TYPE: type,
      TRANSCODER_VCPU: String(containerInstanceTypes[type].vcpu),
    };
  }

  /**
   * A dispatched task sends its container no further requests (it calls out, to the Worker), so
   * the activity timer would stop an instance in the middle of a long chunk. It is asked instead:
   * busy, it is kept; idle, it stops.
   */
  override async onActivityExpired(): Promise<void> {
    const busy = await this.containerFetch("http://transcoder/healthz")
      .then((response) => response.json() as Promise<{ busy?: boolean }>)
      .then((health) => health.busy === true)
      .catch(() => false);
    if (busy) this.renewActivityTimeout();
    else await this.stop();
  }
}
