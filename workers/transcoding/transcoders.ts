import type { Services } from "../platform/services.ts";

/**
 * The transcoder instances the Worker dispatches tasks to. One code path, two addresses: locally
 * `TRANSCODER_URLS` (the Node transcoders `npm start` runs, each standing in for one container
 * instance); in production the `TRANSCODER` Container binding, instances `transcoder-0` …
 * `transcoder-{TRANSCODER_MAX_INSTANCES - 1}` (wrangler.toml's `max_instances`). An instance runs
 * one task at a time; which ones are busy is in the task table (see `busyInstances`).
 */
export interface TranscoderInstance {
  /** What the task table records: the URL, or the container's name. */
  name: string;
  /** Base URL of its HTTP API (the container binding routes whatever host it is given). */
  base: string;
  fetch(request: Request): Promise<Response>;
}

export function transcoderInstances(services: Pick<Services, "config" | "transcoderContainer">): TranscoderInstance[] {
  const urls = services.config.TRANSCODER_URLS;
  if (urls.length > 0) {
    const token = services.config.TRANSCODER_TOKEN;
    const withToken = (request: Request) => {
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    };
    return urls.map((url) => ({ name: url, base: url, fetch: (request) => fetch(withToken(request)) }));
  }
  const instances: TranscoderInstance[] = [];
  for (let index = 0; index < services.config.TRANSCODER_MAX_INSTANCES; index++) {
    const name = `transcoder-${index}`;
    const container = services.transcoderContainer(name);
    if (container) instances.push({ name, base: "http://transcoder", fetch: (request) => container.fetch(request) });
  }
  return instances;
}

export function transcoderNamed(services: Pick<Services, "config" | "transcoderContainer">, name: string): TranscoderInstance | undefined {
  return transcoderInstances(services).find((instance) => instance.name === name);
}

/** Asks an instance to stop a task it may still run (a stalled or superseded attempt); best effort. */
export async function cancelOn(instance: TranscoderInstance | undefined, taskId: string): Promise<void> {
  if (!instance) return;
  await instance
    .fetch(new Request(`${instance.base}/tasks/${encodeURIComponent(taskId)}`, { method: "DELETE", signal: AbortSignal.timeout(10_000) }))
    .then((response) => response.body?.cancel())
    .catch(() => undefined);
}
