import Ajv, { JSONSchemaType } from "ajv";
import { Role, ROLES } from "../components/platform/roles";
import { CLUSTER_SIZES, memberName } from "../components/platform/topology";
import { chooseStack, stackOutputs } from "../local/pulumi";
import { TunnelSpec, TUNNELS_SCHEMA } from "../tunnel/tunnel";
import { IngestSourceCredentials } from "../components/credentials/ingest";

/** The ingest endpoint on the web host, where the users' services send their logs (`ingest` output). */
export interface IngestOutput {
  /** Where clients connect: the web host's public IP on aws, 127.0.0.1 on the docker target. */
  address: string;
  privateAddress: string;
  /** The forward and OTLP ports at `address`. */
  forwardPort: number;
  otlpPort: number;
  /** Where the forward port is on this machine: the SSH tunnel's local end on aws (listed in `tunnels`), the published port on docker. */
  localForwardPort: number;
  /** The program's CA (PEM) that signed the endpoint's server certificate. */
  caCertificate: string;
  /** The sources the endpoint accepts; `platform` is the stack's own (verify's). */
  sources: string[];
  allowedCidrs: string[];
}

/** Each source's credentials (`ingestCredentials` output, secret). */
export interface IngestCredentials {
  sharedKey: string;
  /** By source name: its forward-input password and its OTLP client certificate (CN = the source) and key. */
  sources: Record<string, IngestSourceCredentials>;
}

export interface HostOutput {
  publicIp: string;
  privateIp: string;
}

/** The stack outputs `verify` reads; the program exports exactly these. */
export interface StackOutputs {
  gatewayUrl: string;
  kibanaUrl: string;
  grafanaUrl: string;
  prometheusUrl: string;
  elasticsearchUrl: string;
  /** By member name (`logging`, `logging-2`, ...): every role's first member under the role's own name. */
  hosts: Record<string, HostOutput>;
  sshUser: string;
  sshPrivateKey: string;
  grafanaAdminUser: string;
  grafanaAdminPassword: string;
  /** Prometheus' and Alertmanager's operator login. */
  monitoringOperatorUser: string;
  monitoringOperatorPassword: string;
  /** What the SSH tunnel forwards on aws (the URLs above are its local ends); empty on the docker target. */
  tunnels: TunnelSpec[];
  environment: string;
  /** The program's CA (PEM): Elasticsearch's certificate is checked against it alone. */
  elasticsearchCaCertificate: string;
  /** The operator's Kibana login. */
  kibanaUser: string;
  kibanaPassword: string;
  /** The read-only platform-check user's password: what verify logs in to Elasticsearch and Kibana with. */
  elasticsearchCheckPassword: string;
  ingest: IngestOutput;
  ingestCredentials: IngestCredentials;
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

const text = { type: "string", minLength: 1 } as const;
const port = { type: "integer", minimum: 1, maximum: 65535 } as const;

/** The JSON schema of the `ingest` output: what verify and the forwarder folder command (user-forwarder/) check. */
export const INGEST_SCHEMA = {
  type: "object",
  properties: {
    address: text,
    privateAddress: text,
    forwardPort: port,
    otlpPort: port,
    localForwardPort: port,
    caCertificate: { type: "string", pattern: "-----BEGIN CERTIFICATE-----" },
    sources: { type: "array", items: text, minItems: 1 },
    allowedCidrs: { type: "array", items: text },
  },
  required: ["address", "privateAddress", "forwardPort", "otlpPort", "localForwardPort", "caCertificate", "sources", "allowedCidrs"],
} as const;

/** The JSON schema of the `ingestCredentials` output. */
export const INGEST_CREDENTIALS_SCHEMA = {
  type: "object",
  properties: {
    sharedKey: text,
    sources: {
      type: "object",
      additionalProperties: {
        type: "object",
        properties: { password: text, clientCertificate: text, clientKey: text },
        required: ["password", "clientCertificate", "clientKey"],
      },
    },
  },
  required: ["sharedKey", "sources"],
} as const;

/** A member name of any role: the role, or `<role>-<n>` for the further members of a cluster. */
const MEMBER_NAME = `^(${ROLES.join("|")})(-[2-${CLUSTER_SIZES.max}])?$`;

const URL_KEYS = ["gatewayUrl", "kibanaUrl", "grafanaUrl", "prometheusUrl", "elasticsearchUrl"] as const;
const TEXT_KEYS = [
  "sshUser", "sshPrivateKey", "grafanaAdminUser", "grafanaAdminPassword", "monitoringOperatorUser", "monitoringOperatorPassword", "environment",
  "elasticsearchCaCertificate", "kibanaUser", "kibanaPassword", "elasticsearchCheckPassword",
] as const;

const schema = {
  type: "object",
  properties: {
    ...Object.fromEntries(URL_KEYS.map((k) => [k, { type: "string", pattern: "^https?://" }])),
    ...Object.fromEntries(TEXT_KEYS.map((k) => [k, { type: "string", minLength: 1 }])),
    hosts: {
      type: "object",
      patternProperties: { [MEMBER_NAME]: hostSchema },
      additionalProperties: false,
      required: [...ROLES],
    },
    tunnels: TUNNELS_SCHEMA,
    ingest: INGEST_SCHEMA,
    ingestCredentials: INGEST_CREDENTIALS_SCHEMA,
  },
  required: [...URL_KEYS, ...TEXT_KEYS, "hosts", "tunnels", "ingest", "ingestCredentials"],
} as unknown as JSONSchemaType<StackOutputs>;

const validate = new Ajv({ allErrors: true }).compile(schema);

/** Members listed without the ones before them (`logging-3` but no `logging-2`), which membersOf would skip. */
function memberGaps(outputs: StackOutputs): string[] {
  const listed = new Set(ROLES.flatMap((role) => membersOf(outputs, role)));
  return Object.keys(outputs.hosts).filter((name) => !listed.has(name)).map((name) => `/hosts/${name} comes without the members before it`);
}

/** Checks the shape, naming every missing or malformed output (e.g. a stack from an older program version). */
export function parseOutputs(raw: unknown): StackOutputs {
  const problems = validate(raw) ? memberGaps(raw) : (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  if (problems.length === 0) return raw as StackOutputs;
  throw new Error(`the stack outputs are incomplete: ${problems.join("; ")}. Run \`pulumi up\` with this version of the program first.`);
}

/** The members of a role that the outputs list, in member order (`kafka`, `kafka-2`, ...). */
export function membersOf(outputs: Pick<StackOutputs, "hosts">, role: Role): string[] {
  const names: string[] = [];
  for (let index = 0; memberName(role, index) in outputs.hosts; index++) names.push(memberName(role, index));
  return names;
}

/**
 * `pulumi stack output --json --show-secrets` in the project folder (secrets: SSH key and the passwords), of the stack
 * asked for, else of `npm run local`'s stack when the project holds its state, else of the user's selected stack.
 */
export function pulumiOutputs(projectDir: string, stack?: string, pulumi = "pulumi"): OutputsSource {
  return { read: () => stackOutputs(projectDir, chooseStack(projectDir, stack), pulumi) };
}
