import { execFile } from "node:child_process";
import { promisify } from "node:util";
import Ajv, { JSONSchemaType } from "ajv";
import { ROLES, PerRole } from "../components/roles";

/** The stack outputs `verify` reads; the program exports exactly these. */
export interface StackOutputs {
  gatewayUrl: string;
  kibanaUrl: string;
  grafanaUrl: string;
  prometheusUrl: string;
  elasticsearchUrl: string;
  hosts: PerRole<{ publicIp: string; privateIp: string }>;
  sshUser: string;
  sshPrivateKey: string;
  grafanaAdminUser: string;
  grafanaAdminPassword: string;
  environment: string;
  /** The program's CA (PEM): Elasticsearch's certificate is checked against it alone. */
  elasticsearchCaCertificate: string;
  /** The operator's Kibana login. */
  kibanaUser: string;
  kibanaPassword: string;
  /** The read-only platform-check user's password: what verify logs in to Elasticsearch and Kibana with. */
  elasticsearchCheckPassword: string;
}

/** Where the outputs come from: the Pulumi CLI for users, a literal object in tests. */
export interface OutputsSource {
  read(): Promise<unknown>;
}

const hostSchema = {
  type: "object",
  properties: { publicIp: { type: "string", minLength: 1 }, privateIp: { type: "string", minLength: 1 } },
  required: ["publicIp", "privateIp"],
} as const;

const URL_KEYS = ["gatewayUrl", "kibanaUrl", "grafanaUrl", "prometheusUrl", "elasticsearchUrl"] as const;
const TEXT_KEYS = [
  "sshUser", "sshPrivateKey", "grafanaAdminUser", "grafanaAdminPassword", "environment",
  "elasticsearchCaCertificate", "kibanaUser", "kibanaPassword", "elasticsearchCheckPassword",
] as const;

const schema = {
  type: "object",
  properties: {
    ...Object.fromEntries(URL_KEYS.map((k) => [k, { type: "string", pattern: "^https?://" }])),
    ...Object.fromEntries(TEXT_KEYS.map((k) => [k, { type: "string", minLength: 1 }])),
    hosts: {
      type: "object",
      properties: Object.fromEntries(ROLES.map((r) => [r, hostSchema])),
      required: [...ROLES],
    },
  },
  required: [...URL_KEYS, ...TEXT_KEYS, "hosts"],
} as unknown as JSONSchemaType<StackOutputs>;

const validate = new Ajv({ allErrors: true }).compile(schema);

/** Checks the shape, naming every missing or malformed output (e.g. a stack from an older program version). */
export function parseOutputs(raw: unknown): StackOutputs {
  if (validate(raw)) return raw;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  throw new Error(`the stack outputs are incomplete: ${problems.join("; ")}. Run \`pulumi up\` with this version of the program first.`);
}

/** `pulumi stack output --json --show-secrets`, run in the project folder (secrets: SSH key, Grafana, Kibana and platform-check passwords). */
export function pulumiOutputs(projectDir: string, stack?: string, pulumi = "pulumi"): OutputsSource {
  return {
    async read() {
      const args = ["stack", "output", "--json", "--show-secrets", ...(stack ? ["--stack", stack] : [])];
      try {
        const { stdout } = await promisify(execFile)(pulumi, args, { cwd: projectDir, maxBuffer: 16 * 1024 * 1024 });
        return JSON.parse(stdout) as unknown;
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: string };
        if (e.code === "ENOENT") throw new Error(`the Pulumi CLI (${pulumi}) is not on PATH: install it (https://www.pulumi.com/docs/install/)`);
        throw new Error(`\`pulumi ${args.join(" ")}\` failed: ${(e.stderr || e.message).trim()}`);
      }
    },
  };
}
