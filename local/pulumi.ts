import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The stack `npm run local` deploys: Pulumi.local.yaml, target docker. */
export const LOCAL_STACK = "local";

/**
 * The passphrase of the local stack's secrets when the user sets none (PULUMI_CONFIG_PASSPHRASE or
 * PULUMI_CONFIG_PASSPHRASE_FILE). It is written here and in the README, so it protects nothing by itself: what keeps
 * the stack's secrets (its SSH key and passwords) to the user is that its state sits in the project's STATE_DIR,
 * readable by the user alone (0700) and never committed, and that every service they open listens on 127.0.0.1 of
 * this machine only. The `encryptionsalt` of Pulumi.local.yaml was made with it (Pulumi keeps a salt it finds in the
 * stack file when it creates the stack), so no run ever asks for a passphrase or rewrites that file.
 */
export const LOCAL_PASSPHRASE = "local-stack-not-a-secret";

/** Where Pulumi's file backend keeps the state of `file://<project>`: `<project>/.pulumi/` (gitignored). */
export const STATE_DIR = ".pulumi";

export const INSTALL_HINT = "install it (https://www.pulumi.com/docs/install/: `curl -fsSL https://get.pulumi.com | sh`, " +
  "`brew install pulumi/tap/pulumi` or `winget install pulumi`) and open a new shell";

/** The backend URL of the project's own state: `file://` and the absolute path, with forward slashes on Windows too. */
export function backendUrl(projectDir: string): string {
  return `file://${path.resolve(projectDir).split(path.sep).join("/")}`;
}

/** Whether `npm run local` (or the user's own `pulumi login file://.`) has kept state in the project. */
export function hasProjectState(projectDir: string): boolean {
  return fs.existsSync(path.join(projectDir, STATE_DIR));
}

/** Whether the user chose a passphrase: Pulumi reads PULUMI_CONFIG_PASSPHRASE when set (even empty), else the file. */
export function userPassphrase(env: NodeJS.ProcessEnv): "PULUMI_CONFIG_PASSPHRASE" | "PULUMI_CONFIG_PASSPHRASE_FILE" | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return "PULUMI_CONFIG_PASSPHRASE";
  if (env.PULUMI_CONFIG_PASSPHRASE_FILE) return "PULUMI_CONFIG_PASSPHRASE_FILE";
  return undefined;
}

/**
 * The environment of every pulumi command on the local stack: the project's backend (whatever the user is logged in
 * to: PULUMI_BACKEND_URL overrides `pulumi login` for this process only) and the default passphrase unless the user
 * set one.
 */
export function localStackEnv(projectDir: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    PULUMI_BACKEND_URL: backendUrl(projectDir),
    ...(userPassphrase(env) ? {} : { PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE }),
  };
}

/**
 * Creates the state folder readable by the user alone, or narrows an existing one to that: Pulumi's file backend
 * creates folders and files with the usual umask (world-readable), and the state holds the decryptable secrets.
 */
export function ensurePrivateStateDir(projectDir: string): string {
  const dir = path.join(projectDir, STATE_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.chmodSync(dir, 0o700);
  } catch {
    // Not the user's folder, or a file system without modes: Pulumi's own defaults then.
  }
  return dir;
}

/** Which stack a command reads, and with which environment: the project's local stack, or the user's own backend. */
export interface StackChoice {
  /** Undefined: the stack selected in the user's backend. */
  stack?: string;
  env: NodeJS.ProcessEnv;
  /** For messages: where the stack was looked for. */
  where: string;
}

/**
 * The stack that `npm run ssh` (and any other reader of outputs) means: the one asked for, else `local` when the
 * project holds its state, else the user's selected stack. `local` is read from the project's backend when that
 * exists; any other stack from the user's own (their `pulumi login`, or their PULUMI_BACKEND_URL).
 */
export function chooseStack(projectDir: string, requested: string | undefined, env: NodeJS.ProcessEnv = process.env): StackChoice {
  const local = hasProjectState(projectDir);
  const stack = requested ?? (local ? LOCAL_STACK : undefined);
  if (local && stack === LOCAL_STACK) return { stack, env: localStackEnv(projectDir, env), where: `stack ${stack} in ${STATE_DIR}/ (npm run local)` };
  return { stack, env, where: stack ? `stack ${stack} of your Pulumi backend` : "the selected stack of your Pulumi backend" };
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Read stdout instead of passing it through (JSON outputs, the version). */
  capture?: boolean;
  /** `ignore` (the default) gives the command /dev/null: nothing can wait for an answer. */
  stdin?: "ignore" | "inherit";
  /** The executable; `pulumi` on the PATH of `env`. */
  pulumi?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one pulumi command and resolves with its exit code (and output when captured); rejects only when the CLI
 * cannot be started, saying how to install it. While it runs, Ctrl-C is left to pulumi, which reaches it too (same
 * process group) and cancels cleanly: this process waits for it instead of leaving it behind.
 */
export function runPulumi(args: string[], opts: RunOptions): Promise<RunResult> {
  const pulumi = opts.pulumi ?? "pulumi";
  return new Promise((resolve, reject) => {
    const keepRunning = () => undefined;
    process.on("SIGINT", keepRunning);
    const done = () => process.removeListener("SIGINT", keepRunning);
    const child = spawn(pulumi, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.stdin ?? "ignore", opts.capture ? "pipe" : "inherit", opts.capture ? "pipe" : "inherit"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => (stdout += chunk));
    child.stderr?.on("data", (chunk) => (stderr += chunk));
    child.on("error", (err: NodeJS.ErrnoException) => {
      done();
      reject(new Error(err.code === "ENOENT" ? `the Pulumi CLI (${pulumi}) is not on PATH: ${INSTALL_HINT}` : `${pulumi}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      done();
      resolve({ code: code ?? (signal ? 130 : 1), stdout, stderr });
    });
  });
}

/** `pulumi stack output --json --show-secrets` of the chosen stack, parsed. */
export async function stackOutputs(projectDir: string, choice: StackChoice, pulumi?: string): Promise<unknown> {
  const args = ["stack", "output", "--json", "--show-secrets", "--non-interactive", ...(choice.stack ? ["--stack", choice.stack] : [])];
  const result = await runPulumi(args, { cwd: projectDir, env: choice.env, capture: true, pulumi });
  if (result.code !== 0) throw new Error(`\`pulumi ${args.join(" ")}\` (${choice.where}) failed: ${(result.stderr || result.stdout).trim() || `exit ${result.code}`}`);
  try {
    return JSON.parse(result.stdout) as unknown;
  } catch {
    throw new Error(`\`pulumi ${args.join(" ")}\` printed no JSON: ${result.stdout.slice(0, 200)}`);
  }
}
