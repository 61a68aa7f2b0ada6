import { parseArgs } from "node:util";
import Ajv, { JSONSchemaType } from "ajv";
import { REPO_ROOT } from "../components/platform/repo";
import { OutputsSource, pulumiOutputs } from "../verify/outputs";
import { openTunnel, OpenOptions, TunnelOutputs, TUNNELS_SCHEMA } from "./tunnel";

export const USAGE = `usage: npm run tunnel -- [stack]
Opens the SSH tunnel to the admin UIs of a stack on AWS (default: the selected Pulumi stack) and keeps it open until
Ctrl-C: Kibana, Grafana, Prometheus, Alertmanager and Elasticsearch at http://127.0.0.1:<port>, the stack outputs'
URLs. Host keys are accepted on first use into .tunnel/known_hosts. The docker target needs no tunnel.`;

const schema = {
  type: "object",
  properties: {
    tunnels: TUNNELS_SCHEMA,
    sshUser: { type: "string", minLength: 1 },
    sshPrivateKey: { type: "string", minLength: 1 },
  },
  required: ["tunnels", "sshUser", "sshPrivateKey"],
} as unknown as JSONSchemaType<TunnelOutputs>;

const validate = new Ajv({ allErrors: true }).compile(schema);

/** The outputs the tunnel reads, naming what is missing or malformed (e.g. a stack from an older program version). */
export function parseTunnelOutputs(raw: unknown): TunnelOutputs {
  if (validate(raw)) return raw;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  throw new Error(`the stack outputs lack the tunnel's: ${problems.join("; ")}. Run \`pulumi up\` with this version of the program first.`);
}

export interface Deps {
  outputs?: (stack: string | undefined) => OutputsSource;
  open?: (outputs: TunnelOutputs, opts?: OpenOptions) => ReturnType<typeof openTunnel>;
  print?: (line: string) => void;
  /** Settles when the user asks to stop (Ctrl-C). */
  stopped?: Promise<void>;
}

/** Opens the tunnel, waits for Ctrl-C or a broken ssh, and returns the exit code. */
export async function main(argv: string[], deps: Deps = {}): Promise<number> {
  const print = deps.print ?? ((line: string) => console.log(line));
  let stack: string | undefined;
  let outputs: TunnelOutputs;
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: "boolean", short: "h" } } });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new Error(`one stack name at most, got ${positionals.join(" ")}`);
    stack = positionals[0];
    outputs = parseTunnelOutputs(await (deps.outputs ?? ((s) => pulumiOutputs(REPO_ROOT, s)))(stack).read());
  } catch (err) {
    print(`tunnel: ${(err as Error).message}`);
    print(USAGE);
    return 2;
  }
  if (outputs.tunnels.length === 0) {
    print("This stack publishes its UIs on 127.0.0.1 itself (docker target): no tunnel needed.");
    return 0;
  }
  let tunnel: Awaited<ReturnType<typeof openTunnel>>;
  try {
    tunnel = await (deps.open ?? openTunnel)(outputs);
  } catch (err) {
    print((err as Error).message);
    return 1;
  }
  for (const spec of outputs.tunnels) print(`${spec.member}: ${spec.ports.map((port) => `http://127.0.0.1:${port}`).join(" ")}`);
  print("Tunnel open; Ctrl-C closes it.");
  const stopped = deps.stopped ?? new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  // Ctrl-C reaches ssh too (same process group): its exit then is the stop, not a broken tunnel.
  let stopping = false;
  const broken = await Promise.race([stopped.then(() => void (stopping = true)), tunnel.exited]);
  await tunnel.close();
  if (broken && !stopping) {
    print(`tunnel: ${broken}`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
