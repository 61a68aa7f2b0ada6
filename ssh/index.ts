import { spawn } from "node:child_process";
import * as path from "node:path";
import { REPO_ROOT } from "../components/platform/repo";
import { chooseStack, stackOutputs } from "../local/pulumi";
import { endpointOf, localHostKey, parseSshOutputs, pinHostKey, sshArgs, sshDir, writeKey } from "./ssh";
import { UsageError, commandFailed } from "../local/cli";

export const USAGE = `usage: npm run ssh -- [--stack <name>] <member> [ssh options or a remote command...]
Opens SSH to one host of a stack (logging, web, kafka, monitoring, logging-2, ...) on either target, with the stack's
key (written 0600 to .ssh/ in this folder) and this folder's .ssh/known_hosts. The stack: --stack, else the local
stack when npm run local has state here, else the stack selected in your Pulumi backend. A local host's key is read
from the Docker engine every time, so a recreated host does not break the check; an EC2 host's is accepted the first
time. Example: npm run ssh -- web sudo docker ps`;

export interface Deps {
  projectDir?: string;
  env?: NodeJS.ProcessEnv;
  print?: (line: string) => void;
}

/** Splits `[--stack <name>] <member> [rest...]`: everything after the member is ssh's, options included. */
export function parseArgv(argv: string[]): { help: boolean; stack?: string; member?: string; rest: string[] } {
  let stack: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") return { help: true, rest: [] };
    if (arg === "--stack" || arg === "-s") {
      stack = argv[++i];
      if (!stack) throw new UsageError(`${arg} needs a stack name`);
    } else if (arg.startsWith("--stack=")) {
      stack = arg.slice("--stack=".length);
    } else if (arg.startsWith("-")) {
      throw new UsageError(`unknown option ${arg} before the member (ssh's options go after it)`);
    } else {
      break;
    }
  }
  return { help: false, stack, member: argv[i], rest: argv.slice(i + 1) };
}

/** Runs ssh in this terminal and returns its exit code. */
export async function main(argv: string[], deps: Deps = {}): Promise<number> {
  const print = deps.print ?? ((line: string) => console.error(line));
  const projectDir = deps.projectDir ?? REPO_ROOT;
  const env = deps.env ?? process.env;
  let args: string[];
  try {
    const parsed = parseArgv(argv);
    if (parsed.help) {
      print(USAGE);
      return 0;
    }
    if (!parsed.member) throw new UsageError("name a member, e.g. npm run ssh -- web");
    const choice = chooseStack(projectDir, parsed.stack, env);
    const outputs = parseSshOutputs(await stackOutputs(projectDir, choice));
    const endpoint = endpointOf(outputs, parsed.member);
    const dir = sshDir(projectDir);
    const knownHosts = path.join(dir, "known_hosts");
    if (endpoint.local) pinHostKey(knownHosts, endpoint.host, endpoint.port, await localHostKey(endpoint.port, "docker", env));
    args = sshArgs(endpoint, outputs.sshUser, writeKey(dir, outputs.sshPrivateKey), knownHosts, parsed.rest);
  } catch (err) {
    return commandFailed("ssh", err, USAGE, print);
  }
  return new Promise<number>((resolve) => {
    // Ctrl-C belongs to the session (ssh passes it on, or ends): this process waits for ssh's exit.
    const keepRunning = () => undefined;
    process.on("SIGINT", keepRunning);
    const child = spawn("ssh", args, { stdio: "inherit", env });
    child.on("error", (err: NodeJS.ErrnoException) => {
      process.removeListener("SIGINT", keepRunning);
      print(`ssh: ${err.code === "ENOENT" ? "ssh is not on PATH: install an OpenSSH client" : err.message}`);
      resolve(1);
    });
    child.on("close", (code, signal) => {
      process.removeListener("SIGINT", keepRunning);
      resolve(code ?? (signal ? 130 : 1));
    });
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
