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
 * **Internet off.** `enableInternet = false`: the one way out of an instance is the outbound
 * handler below, which passes on only requests to the Worker's own origin (`PUBLIC_BASE_URL`) for
 * `/internal/storage` and `/internal/transcode/callback` (each still needs the attempt's grant)
 * and answers 403 to anything else, so ffmpeg on an untrusted upload reaches nothing else. The
 * transcoder is told the same origin (`TRANSCODER_STORAGE_ORIGINS`) and refuses others itself.
 *
 * **Rollouts.** Cloudflare SIGTERMs an instance and SIGKILLs it 15 minutes later; the transcoder's
 * default grace is that (`CONTAINER_ROLLOUT_GRACE_SECONDS` in the task contract), and it finishes
 * or hands back its task within it.
 *
 * Only in production (`[[env.production.containers]]` in wrangler.toml): locally the same
 * transcoder runs as Node processes and `TRANSCODER_URLS` points at them.
 */
export class TranscoderContainer extends Container<Env> {
  override defaultPort = 8788;
  /** An instance with no task for this long stops (scale to zero); one with a task is kept (see below). */
  override sleepAfter = "2m";
  override enableInternet = false;

  /**
   * Every HTTP(S) request an instance makes (internet off, so nothing else leaves): the Worker's
   * storage and callback routes on its own origin go on; anything else is refused. The Worker
   * checks each request's grant as it would from anywhere.
   */
  static {
    // An assignment, not a class field: the package's static setter registers the handler.
    TranscoderContainer.outbound = (request: Request, env: Env): Promise<Response> | Response => {
      const url = new URL(request.url);
      if (isTranscoderRoute(url, env.PUBLIC_BASE_URL)) return fetch(request);
      return new Response(`outbound request to ${url.origin} refused: a transcoder reaches only the Worker's storage`, { status: 403 });
    };
  }

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
      TRANSCODER_STORAGE_ORIGINS: new URL(env.PUBLIC_BASE_URL).origin,
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

/** The Worker's routes a transcoder calls: storage and the task callback, on the Worker's own origin. */
export function isTranscoderRoute(url: URL, publicBaseUrl: string): boolean {
  if (url.origin !== new URL(publicBaseUrl).origin) return false;
  return (
    url.pathname === "/internal/storage" || url.pathname.startsWith("/internal/storage/") || url.pathname === "/internal/transcode/callback"
  );
}
