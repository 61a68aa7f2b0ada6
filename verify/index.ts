import { parseArgs } from "node:util";
import { Client } from "@elastic/elasticsearch";
import { REPO_ROOT } from "../components/platform/repo";
import { allChecks, DEFAULT_OPTIONS, VerifyOptions } from "./checks";
import { elasticsearchClient } from "./elasticsearch";
import { sendForward } from "./forward";
import { OutputsSource, parseOutputs, pulumiOutputs, StackOutputs } from "./outputs";
import { ProvisioningDirs, repoDirs } from "./provisioning";
import { EXIT, runChecks, verdict } from "./report";
import { openTunnel, Tunnel } from "../tunnel/tunnel";

export const USAGE = `usage: npm run verify -- [stack] [options]
Checks a deployed stack end to end (default: the selected Pulumi stack).
  --since <minutes>    gateway documents must have arrived within this window (default ${DEFAULT_OPTIONS.recentMinutes})
  --samples <n>        marked requests for the end-to-end latency (default ${DEFAULT_OPTIONS.latencySamples})
  --wait <seconds>     how long a marked request (and the ingest check's record) may take to become searchable (default ${DEFAULT_OPTIONS.latencyWaitMs / 1000})
  --timeout <seconds>  per HTTP request (default ${DEFAULT_OPTIONS.timeoutMs / 1000})
Exit codes: ${EXIT.ok} all checks passed (warnings allowed), ${EXIT.failed} a check failed, ${EXIT.usage} bad arguments or unreadable stack outputs.`;

/** What tests replace: where outputs come from, the Elasticsearch client, the provisioning folders, the printer. */
export interface Deps {
  outputs?: (stack: string | undefined) => OutputsSource;
  /** A client made here is closed here; an injected one belongs to the caller. */
  elasticsearch?: (outputs: StackOutputs, timeoutMs: number) => Client;
  dirs?: ProvisioningDirs;
  print?: (line: string) => void;
  /** Opens the SSH tunnel the UI URLs need on aws (tunnel/); the real one by default. */
  tunnel?: (outputs: StackOutputs) => Promise<Tunnel>;
  /** Sends the ingest check's record over the forward protocol (verify/forward.ts by default). */
  forward?: typeof sendForward;
}

function positiveNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

export function parseCommandLine(argv: string[]): { stack?: string; options: VerifyOptions; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      since: { type: "string" },
      samples: { type: "string" },
      wait: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals.length > 1) throw new Error(`one stack name at most, got ${positionals.join(" ")}`);
  const samples = positiveNumber("samples", values.samples, DEFAULT_OPTIONS.latencySamples);
  if (!Number.isInteger(samples)) throw new Error(`--samples must be a whole number, got ${values.samples}`);
  return {
    stack: positionals[0],
    help: values.help ?? false,
    options: {
      ...DEFAULT_OPTIONS,
      recentMinutes: positiveNumber("since", values.since, DEFAULT_OPTIONS.recentMinutes),
      latencySamples: samples,
      latencyWaitMs: positiveNumber("wait", values.wait, DEFAULT_OPTIONS.latencyWaitMs / 1000) * 1000,
      timeoutMs: positiveNumber("timeout", values.timeout, DEFAULT_OPTIONS.timeoutMs / 1000) * 1000,
    },
  };
}

/** Runs every check against the stack and returns the exit code. */
export async function main(argv: string[], deps: Deps = {}): Promise<number> {
  const print = deps.print ?? ((line: string) => console.log(line));
  let parsed: ReturnType<typeof parseCommandLine>;
  let outputs: StackOutputs;
  try {
    parsed = parseCommandLine(argv);
    if (parsed.help) {
      print(USAGE);
      return EXIT.ok;
    }
    const source = (deps.outputs ?? ((stack) => pulumiOutputs(REPO_ROOT, stack)))(parsed.stack);
    outputs = parseOutputs(await source.read());
  } catch (err) {
    print(`verify: ${(err as Error).message}`);
    print(USAGE);
    return EXIT.usage;
  }
  print(`Verifying stack ${parsed.stack ?? "(selected)"}, environment ${outputs.environment}`);
  // On aws the UI URLs are the local ends of the SSH tunnel: verify opens it for its own run.
  let tunnel: Tunnel | undefined;
  if (outputs.tunnels.length) {
    try {
      tunnel = await (deps.tunnel ?? openTunnel)(outputs);
    } catch (err) {
      print(`verify: ${(err as Error).message}`);
      return EXIT.failed;
    }
  }
  const es = (deps.elasticsearch ?? elasticsearchClient)(outputs, parsed.options.timeoutMs);
  const ownClient = !deps.elasticsearch;
  try {
    const results = await runChecks(allChecks(outputs, es, deps.dirs ?? repoDirs(), parsed.options, deps.forward), print);
    const { line, exitCode } = verdict(results);
    print(line);
    return exitCode;
  } finally {
    if (ownClient) await es.close();
    await tunnel?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
