import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stateDir } from "./paths.ts";

const lockFile = `${stateDir}/dev.json`;

/** What a running `npm start` publishes for other scripts (admin, seed, bench). */
export interface DevStackInfo {
  pid: number;
  workerUrl: string;
  databaseUrl: string;
  wsProxy?: string;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running dev stack, if any (a stale lock left by a crash is ignored and removed). */
export function runningDevStack(): DevStackInfo | undefined {
  if (!existsSync(lockFile)) return undefined;
  try {
    const info = JSON.parse(readFileSync(lockFile, "utf8")) as DevStackInfo;
    if (isAlive(info.pid)) return info;
  } catch {
    // unreadable lock: treat as stale
  }
  rmSync(lockFile, { force: true });
  return undefined;
}

export function writeDevStackLock(info: DevStackInfo): void {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(lockFile, JSON.stringify(info, null, 2));
}

export function removeDevStackLock(): void {
  rmSync(lockFile, { force: true });
}
