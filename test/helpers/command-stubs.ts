import * as fs from "node:fs";
import * as path from "node:path";

/** One run of a stand-in command, as it saw it. */
export interface StubCall {
  command: string;
  args: string[];
  cwd: string;
  /** The variables a test looks at (undefined: not set). */
  env: Record<string, string | undefined>;
  /** What its stdin was: /dev/null (nothing to read, nobody to answer), a terminal, a pipe. */
  stdin: "devnull" | "tty" | "pipe" | "other";
  /** The mode of the file named by `IdentityFile=`, when there is one (ssh). */
  keyMode?: number;
  /** The file named by `UserKnownHostsFile=`, as it was when the command ran (ssh). */
  knownHosts?: string;
}

/** An answer: for the first rule whose `args` begin the call's arguments. */
export interface StubRule {
  args: string[];
  stdout?: string;
  stderr?: string;
  code?: number;
}

export const RECORDED_ENV = [
  "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_STACK",
] as const;

/**
 * Stand-in executables in `dir` (put it first on PATH): each appends what it saw to a log and answers by its rules
 * (exit 0 and no output when none matches).
 */
export function writeStubs(dir: string, rules: Record<string, StubRule[]>): { calls: () => StubCall[] } {
  const log = path.join(dir, "calls.jsonl");
  for (const [command, answers] of Object.entries(rules)) {
    fs.writeFileSync(path.join(dir, command), `#!${process.execPath}
const fs = require("fs");
const args = process.argv.slice(2);
let stdin = "other";
const st = fs.fstatSync(0);
const devnull = fs.statSync("/dev/null");
if (st.ino === devnull.ino && st.rdev === devnull.rdev) stdin = "devnull";
else if (require("tty").isatty(0)) stdin = "tty";
else if (st.isFIFO() || st.isSocket()) stdin = "pipe";
const env = {};
for (const name of ${JSON.stringify(RECORDED_ENV)}) env[name] = process.env[name];
const call = { command: ${JSON.stringify(command)}, args, cwd: process.cwd(), env, stdin };
const fileOf = (name) => { const o = args.find((a) => a.startsWith(name + "=")); return o && o.slice(name.length + 1).replace(/^"|"$/g, "").replace(/%%/g, "%"); };
const key = fileOf("IdentityFile");
if (key) call.keyMode = fs.statSync(key).mode & 0o777;
const knownHosts = fileOf("UserKnownHostsFile");
if (knownHosts) call.knownHosts = fs.existsSync(knownHosts) ? fs.readFileSync(knownHosts, "utf8") : "";
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(call) + "\\n");
const rule = ${JSON.stringify(answers)}.find((r) => r.args.every((a, i) => args[i] === a));
if (rule && rule.stdout) process.stdout.write(rule.stdout);
if (rule && rule.stderr) process.stderr.write(rule.stderr);
process.exitCode = rule && rule.code !== undefined ? rule.code : 0;
`, { mode: 0o755 });
  }
  return { calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as StubCall) : []) };
}

/** The environment of a command under test: the stubs first on PATH, none of the user's Pulumi variables. */
export function stubEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ""}` };
  for (const name of [...RECORDED_ENV, "PULUMI_ACCESS_TOKEN"]) delete env[name];
  return { ...env, ...extra };
}
