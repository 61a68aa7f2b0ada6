import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Real servers for integration tests: loopback only, bounded waits, always stopped. */

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls until `ready` holds, at most `timeoutMs`; the failure says what it waited for. */
export async function waitFor(what: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`gave up after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(500);
  }
}

/** Child processes logging to `<dir>/<name>.log`, stopped together (SIGTERM, then SIGKILL after 10 s). */
export class Processes {
  private readonly children: ChildProcess[] = [];

  start(dir: string, name: string, command: string, args: string[]): void {
    const log = openSync(path.join(dir, `${name}.log`), "w");
    this.children.push(spawn(command, args, { stdio: ["ignore", log, log] }));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.children.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000).then(() => child.kill("SIGKILL"))]);
    }));
  }
}
