/**
 * `npm run transcode:capacity -- [options]`: the production arithmetic of docs/transcoding.md. From
 * speeds measured by `npm run bench:transcode` (passed as options; the defaults are the figures
 * the docs quote), it works out how long a film takes to publish on N instances of each
 * Cloudflare Containers instance type, what that costs, and whether each limit holds: the
 * account's concurrent vCPU, the instance's memory and disk, the queue consumer's wall clock.
 *
 * The model, task by task as the transcoding service runs them: the plan; then the audio (first)
 * and every chunk, each instance taking the next task as it frees up; then the finalize task. A
 * chunk of L seconds takes L × cpu-per-second / (vCPU × efficiency) (efficiency 1 below one vCPU:
 * x264 gets that share of a core); the audio, one thread, audio-per-second × length at one vCPU
 * or slower on less. Costs at Cloudflare's rates: CPU by active vCPU-seconds (the ffmpeg CPU the
 * film needs), memory and disk as provisioned for every instance from its first task until it
 * sleeps (`sleepAfter`, 2 minutes, after its last). Workers Paid's monthly included usage is not
 * subtracted: this is the marginal cost of one more film.
 *
 * @example
 * npm run transcode:capacity -- --plan 660   # the plan as slow as the local stack makes it (docs/transcoding.md)
 */
import { parseArgs } from "node:util";
import { chunkDiskBound } from "../transcoder/src/chunk-task.ts";
import { planLadder } from "../transcoder/src/ladder.ts";
import {
  ACCOUNT_CONCURRENT_VCPU,
  type ContainerInstanceType,
  containerInstanceTypes,
  instanceScratchBytes,
} from "../workers/platform/container-instances.ts";

/** Cloudflare Containers' rates (developers.cloudflare.com/containers/pricing). */
const RATES = { vcpuSecond: 0.00002, gibSecond: 0.0000025, gbSecond: 0.00000007 };
/** An idle instance sleeps after this (durable-objects/transcoder-container.ts `sleepAfter`). */
const SLEEP_AFTER_SECONDS = 120;
/** A queue consumer invocation's wall clock on Cloudflare. */
const CONSUMER_WALL_CLOCK_SECONDS = 900;

const { values } = parseArgs({
  options: {
    "film-minutes": { type: "string", default: "120" },
    "chunk-seconds": { type: "string", default: "60" },
    /** ffmpeg CPU seconds per second of 1080p30 source, the whole ladder (bench: the continuous run (d)). */
    "cpu-per-second": { type: "string", default: "1.42" },
    /** How much of its vCPU one ffmpeg ladder run keeps busy (bench: (d)'s CPU / (2 cores × its wall time)). */
    efficiency: { type: "string", default: "0.97" },
    /** Wall seconds of the plan task, and of the finalize task for a two-hour film. */
    plan: { type: "string", default: "2" },
    finalize: { type: "string", default: "100" },
    /** Wall seconds of the audio task per second of source, on one core. */
    "audio-per-second": { type: "string", default: "0.025" },
    /** Peak memory of one transcoder running a 1080p chunk (bench: the transcoder's peak RSS). */
    "rss-mib": { type: "string", default: "768" },
    /** A sleeping instance's start, and a task's dispatch and callbacks, in seconds. */
    "cold-start": { type: "string", default: "3" },
    "dispatch-overhead": { type: "string", default: "1" },
    "target-minutes": { type: "string", default: "5" },
  },
});

const number = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number, 0 or more`);
  return value;
};
const filmSeconds = number("film-minutes") * 60;
const chunkSeconds = number("chunk-seconds");
const cpuPerSecond = number("cpu-per-second");
const efficiency = number("efficiency");
const planSeconds = number("plan");
const finalizeSeconds = number("finalize");
const audioPerSecond = number("audio-per-second");
const rssMiB = number("rss-mib");
const coldStart = number("cold-start");
const overhead = number("dispatch-overhead");
const targetSeconds = number("target-minutes") * 60;

// The ladder a 1080p30 film gets, and what one chunk of it may hold on the scratch disk.
const ladder = planLadder({ width: 1920, height: 1080, frameRate: "30/1", videoBitrate: 8_000_000, interlaced: false, hasAudio: true });
const chunkBound = chunkDiskBound(ladder, chunkSeconds);
// The audio rendition's segments, at its bitrate (they leave the disk as they are stored; this is all of them).
const audioBound = Math.ceil((filmSeconds * (ladder.audio.type === "aac" ? ladder.audio.bitrate : 0)) / 8);
const chunks = Math.ceil(filmSeconds / chunkSeconds - 0.25);

interface Estimate {
  type: ContainerInstanceType;
  instances: number;
  vcpu: number;
  chunkTaskSeconds: number;
  audioTaskSeconds: number;
  publishSeconds: number;
  cost: { cpu: number; memory: number; disk: number; total: number };
  fits: { account: boolean; memory: boolean; disk: boolean };
}

/** Each instance takes the next task as it frees up: when does the last one end? */
function makespan(tasks: readonly number[], instances: number): { end: number; busy: number[] } {
  const freeAt = Array.from({ length: instances }, () => 0);
  const busy = Array.from({ length: instances }, () => 0);
  for (const seconds of tasks) {
    let next = 0;
    for (let i = 1; i < freeAt.length; i++) if ((freeAt[i] as number) < (freeAt[next] as number)) next = i;
    freeAt[next] = (freeAt[next] as number) + seconds + overhead;
    busy[next] = freeAt[next] as number;
  }
  return { end: Math.max(...freeAt), busy };
}

function estimate(type: ContainerInstanceType, instances: number): Estimate {
  const { vcpu, memoryMiB, diskGB } = containerInstanceTypes[type];
  const speed = vcpu >= 1 ? vcpu * efficiency : vcpu;
  const chunkTaskSeconds = (chunkSeconds * cpuPerSecond) / speed;
  const audioTaskSeconds = (filmSeconds * audioPerSecond) / Math.min(1, vcpu);
  const encode = makespan([audioTaskSeconds, ...Array.from({ length: chunks }, () => chunkTaskSeconds)], instances);
  const publishSeconds = coldStart + planSeconds + overhead + coldStart + encode.end + finalizeSeconds + overhead;
  // Every instance is up from its first task until SLEEP_AFTER_SECONDS after its last.
  const upSeconds = encode.busy.reduce((sum, until) => sum + (until > 0 ? until + SLEEP_AFTER_SECONDS : 0), 0);
  const cpuSeconds = filmSeconds * cpuPerSecond + audioTaskSeconds * Math.min(1, vcpu);
  const cost = {
    cpu: cpuSeconds * RATES.vcpuSecond,
    memory: upSeconds * (memoryMiB / 1024) * RATES.gibSecond,
    disk: upSeconds * diskGB * RATES.gbSecond,
    total: 0,
  };
  cost.total = cost.cpu + cost.memory + cost.disk;
  return {
    type,
    instances,
    vcpu: instances * vcpu,
    chunkTaskSeconds,
    audioTaskSeconds,
    publishSeconds,
    cost,
    fits: {
      account: instances * vcpu <= ACCOUNT_CONCURRENT_VCPU,
      memory: rssMiB <= memoryMiB,
      disk: Math.max(chunkBound.bytes, audioBound) <= instanceScratchBytes(type),
    },
  };
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
const minutes = (seconds: number) => `${Math.floor(seconds / 60)} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;

console.log(
  `a ${filmSeconds / 60}-minute 1080p30 film: ${chunks} chunks of about ${chunkSeconds} s + the audio; ladder ${ladder.renditions
    .map((rendition) => rendition.name)
    .join(" ")}`,
);
console.log(
  `measured: ${cpuPerSecond} ffmpeg CPU s per source s, efficiency ${efficiency} on several vCPU, plan ${planSeconds} s, finalize ${finalizeSeconds} s, ` +
    `audio ${audioPerSecond} s per source s, peak RSS ${rssMiB} MiB; cold start ${coldStart} s, ${overhead} s per dispatch`,
);
console.log(
  `scratch disk: a chunk at most ${mib(chunkBound.bytes)} (${chunkBound.what}), the audio at most ${mib(audioBound)}; ` +
    `queue consumer: each invocation dispatches one task and returns (the transcoder answers 202), far below its ${CONSUMER_WALL_CLOCK_SECONDS} s`,
);
console.log("");
console.log("type         instances  vCPU  chunk task  audio task  publish        CPU $   memory $  disk $  total $  limits");
const rows: Estimate[] = [];
for (const type of Object.keys(containerInstanceTypes) as ContainerInstanceType[]) {
  const perInstance = containerInstanceTypes[type].vcpu;
  const counts = [1, 5, 10, 25, 50, 100].filter((count) => count * perInstance <= ACCOUNT_CONCURRENT_VCPU);
  const accountMax = Math.floor(ACCOUNT_CONCURRENT_VCPU / perInstance);
  // Enough instances for every chunk at once, when the account allows that many.
  for (const count of [...new Set([...counts, Math.min(chunks + 1, accountMax)])].sort((a, b) => a - b)) {
    const row = estimate(type, count);
    rows.push(row);
    const limits = [
      row.fits.account ? null : `over the account's ${ACCOUNT_CONCURRENT_VCPU} vCPU`,
      row.fits.memory ? null : `${rssMiB} MiB does not fit in ${containerInstanceTypes[type].memoryMiB} MiB`,
      row.fits.disk ? null : "scratch disk too small",
    ].filter(Boolean);
    console.log(
      [
        type.padEnd(12),
        String(count).padStart(9),
        String(row.vcpu).padStart(5),
        `${row.chunkTaskSeconds.toFixed(0)} s`.padStart(11),
        `${row.audioTaskSeconds.toFixed(0)} s`.padStart(11),
        minutes(row.publishSeconds).padStart(13),
        row.cost.cpu.toFixed(3).padStart(7),
        row.cost.memory.toFixed(3).padStart(9),
        row.cost.disk.toFixed(3).padStart(7),
        row.cost.total.toFixed(3).padStart(8),
        ` ${limits.length > 0 ? limits.join("; ") : "ok"}${row.publishSeconds <= targetSeconds && limits.length === 0 ? ` (under ${targetSeconds / 60} min)` : ""}`,
      ].join(" "),
    );
  }
}
const meeting = rows.filter((row) => row.publishSeconds <= targetSeconds && row.fits.account && row.fits.memory && row.fits.disk);
const cheapest = meeting.sort((a, b) => a.cost.total - b.cost.total || a.vcpu - b.vcpu)[0];
console.log("");
console.log(
  cheapest
    ? `cheapest fleet publishing the film in under ${targetSeconds / 60} minutes: ${cheapest.instances} × ${cheapest.type} (${cheapest.vcpu} vCPU), ${minutes(cheapest.publishSeconds)}, $${cheapest.cost.total.toFixed(2)}`
    : `no fleet the account allows publishes the film in under ${targetSeconds / 60} minutes with these speeds`,
);
