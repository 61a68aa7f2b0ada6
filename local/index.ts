import { REPO_ROOT } from "../components/platform/repo";
import { UsageError, commandFailed } from "./cli";
import {
  backendUrl, ensurePrivateStateDir, hasProjectState, LOCAL_STACK, localStackEnv, runPulumi, RunOptions, STATE_DIR, userPassphrase,
} from "./pulumi";

export const USAGE = `usage: npm run local [-- <pulumi up flags>]      deploy the local stack on this machine's Docker engine
       npm run local:down [-- <pulumi destroy flags>]  remove its containers, network, volumes and host image
       npm run local:pulumi -- <pulumi command>     any pulumi command on the local stack, e.g.
                                                    stack output kibanaPassword --show-secrets
The local stack (Pulumi.local.yaml, target docker) keeps its state in ${STATE_DIR}/ of this folder, not in your
\`pulumi login\`, and its secrets under a fixed passphrase unless PULUMI_CONFIG_PASSPHRASE(_FILE) is set. No command
asks a question. Plain pulumi commands reach the same stack with PULUMI_BACKEND_URL=file://<this folder> and
PULUMI_CONFIG_PASSPHRASE set (see the README).`;

export interface Deps {
  /** The Pulumi project: its Pulumi.yaml and Pulumi.local.yaml, and the state folder. */
  projectDir?: string;
  env?: NodeJS.ProcessEnv;
  print?: (line: string) => void;
}

/** Each pulumi command the local stack's deploy and removal run: none can prompt (stdin is /dev/null, --non-interactive). */
export const COMMANDS = {
  version: ["version", "--non-interactive"],
  // Creates the stack in the project's backend the first time (the passphrase provider: the salt of
  // Pulumi.local.yaml), selects it afterwards.
  select: ["stack", "select", LOCAL_STACK, "--create", "--secrets-provider", "passphrase", "--non-interactive"],
  // --skip-preview: with --yes nobody reads a preview before the update starts, so it would only run the program a
  // second time; the update shows each step as it happens, and `npm run local:pulumi -- preview` shows one first.
  up: ["up", "--stack", LOCAL_STACK, "--yes", "--skip-preview", "--non-interactive"],
  // The stack stays (no `stack rm`, and never --remove, which would delete Pulumi.local.yaml): empty, it costs nothing
  // and the next `npm run local` goes straight to the update.
  destroy: ["destroy", "--stack", LOCAL_STACK, "--yes", "--skip-preview", "--non-interactive"],
} as const;

/** Runs the local stack's deploy (`up`), removal (`down`) or any pulumi command on it (`pulumi ...`); the exit code. */
export async function main(argv: string[], deps: Deps = {}): Promise<number> {
  const print = deps.print ?? ((line: string) => console.log(line));
  const projectDir = deps.projectDir ?? REPO_ROOT;
  const env = localStackEnv(projectDir, deps.env ?? process.env);
  const [action, ...rest] = argv;
  const run = (args: readonly string[], opts: Partial<RunOptions> = {}) => runPulumi([...args], { cwd: projectDir, env, ...opts });
  const own = userPassphrase(deps.env ?? process.env);

  /** The CLI's version, or a clear failure when it is missing; printed with where the state and secrets are. */
  const preamble = async (): Promise<boolean> => {
    const version = await run(COMMANDS.version, { capture: true });
    if (version.code !== 0) {
      print(`local: \`pulumi version\` failed: ${(version.stderr || version.stdout).trim()}`);
      return false;
    }
    print(`Pulumi ${version.stdout.trim()}, stack ${LOCAL_STACK}: state in ${STATE_DIR}/ (PULUMI_BACKEND_URL=${backendUrl(projectDir)}), ` +
      `secrets under ${own ? `your ${own}` : "the local stack's fixed passphrase"}.`);
    return true;
  };
  const failed = (code: number, step: string) => {
    print(`local: ${step} failed (exit ${code}).`);
    if (own) {
      print(`If Pulumi said "incorrect passphrase": Pulumi.local.yaml's encryptionsalt belongs to the local stack's default passphrase. ` +
        `Unset ${own}, or delete that line before the stack is first created to use yours.`);
    }
    return code;
  };

  // `npm run local -- --help` asks for this usage, not for an update with --help passed on.
  if ((action === "up" || action === "down") && rest.some((arg) => arg === "-h" || arg === "--help")) {
    print(USAGE);
    return 0;
  }
  try {
    switch (action) {
      case "up": {
        if (!(await preamble())) return 1;
        ensurePrivateStateDir(projectDir);
        const select = await run(COMMANDS.select);
        if (select.code !== 0) return failed(select.code, `pulumi ${COMMANDS.select.join(" ")}`);
        const up = await run([...COMMANDS.up, ...rest]);
        if (up.code !== 0) return failed(up.code, "pulumi up");
        print("Passwords: npm run -s local:pulumi -- stack output --show-secrets kibanaPassword (grafanaAdminPassword, monitoringOperatorPassword).");
        print("A shell on a host: npm run ssh -- <member> (logging, web, kafka, monitoring). Remove it all: npm run local:down.");
        return 0;
      }
      case "down": {
        if (!hasProjectState(projectDir)) {
          print(`local: no ${STATE_DIR}/ in ${projectDir}: nothing was deployed with npm run local, nothing to remove.`);
          return 0;
        }
        if (!(await preamble())) return 1;
        const destroy = await run([...COMMANDS.destroy, ...rest]);
        if (destroy.code !== 0) return failed(destroy.code, "pulumi destroy");
        print(`The local stack is empty; its state stays in ${STATE_DIR}/ (delete the folder to forget it).`);
        return 0;
      }
      case "pulumi": {
        if (rest.length === 0) throw new UsageError("name a pulumi command, e.g. npm run local:pulumi -- stack output");
        // The user's own command, prompts and all (stdin is theirs); PULUMI_STACK points it at the local stack
        // unless it names another with --stack.
        return (await run(rest, { stdin: "inherit", env: { ...env, PULUMI_STACK: LOCAL_STACK } })).code;
      }
      case "-h":
      case "--help":
        print(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown action ${action ?? "(none)"}`);
    }
  } catch (err) {
    return commandFailed("local", err, USAGE, print);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
