import { spawnSync, SpawnSyncReturns } from "child_process";

/** Runs a real tool; a missing one fails the test with the Debian package that provides it. */
export function runTool(command: string, args: string[], debianPackage: string, options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 120_000, ...options });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(`${command} is not installed: apt-get install ${debianPackage} (listed in .ci/apt-packages.txt)`);
  }
  if (result.error) throw result.error;
  return result;
}
