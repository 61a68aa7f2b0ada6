// Loaded by mocha before any test file (see .mocharc.json): the Pulumi mocks and the stack config must be in place
// before the program is imported, or resources register against no monitor and tests pass vacuously.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
// The mock monitor is internal to the SDK; wrapping it is the only way to see each registration's dependencies.
import * as settings from "@pulumi/pulumi/runtime/settings";
// Likewise its feature store (untyped there), to turn alias specs off.
import * as state from "@pulumi/pulumi/runtime/state";
import { LocalMachine, standInLocalMachine } from "../components/targets/docker/preflight";

export const PROJECT = "aws-log-platform";
export const STACK = "dev";

/** A resource as the program registered it: inputs plus the names of the resources it waits for. */
export interface Registered {
  type: string;
  name: string;
  urn: string;
  inputs: Record<string, unknown>;
  /** Names of every resource this one depends on (explicit dependsOn and inputs taken from other resources). */
  dependsOn: string[];
  /** The URNs this resource answers to besides its own: its aliases and those it inherits from its parents'. */
  aliases: string[];
  /** Dotted paths of the inputs whose values are secrets. */
  secretInputs: string[];
  /** The explicit provider's reference (`<urn>::<id>`); empty for the package's default provider. */
  provider: string;
  /** Resource options that decide how a change is applied. */
  ignoreChanges: string[];
  deleteBeforeReplace: boolean;
}

export const registered: Registered[] = [];

/** The alert receivers' secret values in TEST_CONFIG: they may appear only where secrets go. */
export const ALERT_SECRETS = ["https://hooks.example.com/alerts/MOCKWEBHOOK", "https://hooks.slack.com/services/T0/B0/MOCKSLACK", "MockSmtpPassword"];

export const TEST_CONFIG: Record<string, string> = {
  "aws:region": "eu-west-1",
  [`${PROJECT}:operatorCidrs`]: JSON.stringify(["203.0.113.0/24", "198.51.100.7/32"]),
  // One x86 host among the Graviton ones, so architecture-specific choices are visible.
  [`${PROJECT}:instanceTypes`]: JSON.stringify({ logging: "m7g.large", kafka: "t4g.medium", monitoring: "t3.small" }),
  [`${PROJECT}:alertWebhookUrl`]: ALERT_SECRETS[0],
  [`${PROJECT}:alertSlackWebhookUrl`]: ALERT_SECRETS[1],
  [`${PROJECT}:alertEmail`]: JSON.stringify({ to: "ops@example.com", from: "alerts@example.com", smarthost: "smtp.example.com:587", username: "alerts" }),
  [`${PROJECT}:alertSmtpPassword`]: ALERT_SECRETS[2],
};

/**
 * Instances that exist before a run, by Name tag, with their private addresses (what a second `pulumi up` finds);
 * empty: a first deploy. A test sets and clears it.
 */
export const EXISTING_INSTANCES: Record<string, string> = {};

/** The AWS account the mocks deploy into. */
export const MOCK_ACCOUNT_ID = "123456789012";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const urnName = (urn: string) => urn.split("::").pop() ?? urn;

/** The image id the mocks answer for an image name. */
export const mockImageId = (imageName: string): string => `ami-${crypto.createHash("sha256").update(imageName).digest("hex").slice(0, 17)}`;

/** The AWS-shaped URL and ARNs the mocks answer for the CloudTrail module's failure queue, topic, key and alarm. */
export const mockQueueUrl = (name: string) => `https://sqs.eu-west-1.amazonaws.com/${MOCK_ACCOUNT_ID}/${name}`;
export const mockQueueArn = (name: string) => `arn:aws:sqs:eu-west-1:${MOCK_ACCOUNT_ID}:${name}`;
export const mockTopicArn = (name: string) => `arn:aws:sns:eu-west-1:${MOCK_ACCOUNT_ID}:${name}`;
export const mockKeyArn = (name: string) => `arn:aws:kms:eu-west-1:${MOCK_ACCOUNT_ID}:key/${name}-id`;
export const mockAlarmArn = (name: string) => `arn:aws:cloudwatch:eu-west-1:${MOCK_ACCOUNT_ID}:alarm:${name}`;

/** A PEM-shaped mock value whose body names its kind and resource (base64 of `MOCK <label> <name>`). */
export const mockPem = (label: string, name: string): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(`MOCK ${label} ${name}`).toString("base64")}\n-----END ${label}-----\n`;

/**
 * A host number per instance name: a member's (`…-logging-2`) from its role and position, so that the members of one
 * platform never share an address; any other name's from its hash.
 */
export function mockHostNumber(name: string): number {
  const member = /-(logging|web|kafka|monitoring)(?:-(\d))?$/.exec(name);
  if (!member) return (crypto.createHash("sha256").update(name).digest().readUInt32BE(0) % 254) + 1;
  return 10 + 20 * ["logging", "web", "kafka", "monitoring"].indexOf(member[1]) + Number(member[2] ?? 1) - 1;
}

const mocks: pulumi.runtime.Mocks = {
  newResource(args) {
    const state: Record<string, unknown> = { ...args.inputs };
    switch (args.type) {
      case "aws:ec2/instance:Instance":
        // From the instance's name, not from the order of registrations: a run's inputs are the same whatever ran
        // before it and in whatever order the program registers its resources.
        state.publicIp = `198.51.100.${mockHostNumber(args.name)}`;
        state.privateIp = `10.42.0.${mockHostNumber(args.name)}`;
        break;
      case "tls:index/privateKey:PrivateKey":
        state.privateKeyOpenssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nMOCKED\n-----END OPENSSH PRIVATE KEY-----\n";
        state.publicKeyOpenssh = "ssh-ed25519 AAAAC3MOCKED generated";
        // Each key its own body, so a test can find where a key went.
        state.privateKeyPem = mockPem("RSA PRIVATE KEY", args.name);
        state.privateKeyPemPkcs8 = mockPem("PRIVATE KEY", args.name);
        break;
      case "tls:index/selfSignedCert:SelfSignedCert":
      case "tls:index/locallySignedCert:LocallySignedCert":
        state.certPem = mockPem("CERTIFICATE", args.name);
        break;
      case "tls:index/certRequest:CertRequest":
        state.certRequestPem = mockPem("CERTIFICATE REQUEST", args.name);
        break;
      case "random:index/randomPassword:RandomPassword":
        // Each password its own value, so a test can tell which one went where.
        state.result = args.name.endsWith("-grafana-admin") ? "MockedGrafanaPassword123" : `Mocked${args.name.replace(/[^A-Za-z0-9]/g, "")}`;
        break;
      case "random:index/randomBytes:RandomBytes":
        state.base64 = crypto.createHash("sha256").update(args.name).digest().subarray(0, Number(args.inputs.length)).toString("base64");
        break;
      case "aws:ec2/keyPair:KeyPair":
        state.keyName = args.name;
        break;
      case "docker:index/remoteImage:RemoteImage":
        state.imageId = `sha256:${crypto.createHash("sha256").update(String(args.inputs.name)).digest("hex")}`;
        break;
      case "aws:ec2/subnet:Subnet":
        // Stands for a stack whose subnet was created earlier in another zone, kept there by ignoreChanges.
        if (args.name.startsWith("kept-zone-")) state.availabilityZone = "eu-west-1a";
        break;
      case "command:remote:Command":
        state.stdout = `${args.name} ok`;
        break;
      // The CloudTrail module's resources answer with AWS-shaped names and ARNs (the mock account below).
      case "aws:s3/bucket:Bucket":
        state.bucket = `${args.name}-id`;
        state.arn = `arn:aws:s3:::${args.name}-id`;
        break;
      case "aws:cloudwatch/logGroup:LogGroup":
        state.name = `/aws/lambda/${args.name}`;
        state.arn = `arn:aws:logs:eu-west-1:${MOCK_ACCOUNT_ID}:log-group:/aws/lambda/${args.name}`;
        break;
      case "aws:lambda/function:Function":
        state.name = args.name;
        state.arn = `arn:aws:lambda:eu-west-1:${MOCK_ACCOUNT_ID}:function:${args.name}`;
        break;
      case "aws:iam/role:Role":
        state.arn = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${args.name}`;
        break;
      case "aws:cloudtrail/trail:Trail":
        state.arn = `arn:aws:cloudtrail:eu-west-1:${MOCK_ACCOUNT_ID}:trail/${String(args.inputs.name)}`;
        break;
      case "aws:ec2/vpcEndpoint:VpcEndpoint":
        state.prefixListId = "pl-6da54004";
        break;
      case "aws:sqs/queue:Queue":
        Object.assign(state, { name: args.name, arn: mockQueueArn(args.name), url: mockQueueUrl(args.name) });
        break;
      case "aws:sns/topic:Topic":
        Object.assign(state, { name: args.name, arn: mockTopicArn(args.name) });
        break;
      case "aws:kms/key:Key":
        Object.assign(state, { keyId: `${args.name}-id`, arn: mockKeyArn(args.name) });
        break;
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        Object.assign(state, { name: args.name, arn: mockAlarmArn(args.name) });
        break;
    }
    return { id: `${args.name}-id`, state };
  },
  call(args) {
    switch (args.token) {
      case "aws:ec2/getAmiIds:getAmiIds": {
        // One image id per image name, so a test can tell which build a host boots.
        const filters = args.inputs.filters as { name: string; values: string[] }[];
        const imageName = filters.find((f) => f.name === "name")?.values[0] ?? "";
        return { id: "amis", ids: [mockImageId(imageName)] };
      }
      case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
        const types = (args.inputs.filters as { values: string[] }[])[0].values;
        // Zone a lacks t4g.medium, zones b and c offer everything: the network must pick b (and c for a cluster).
        const offers = [
          ...types.filter((t) => t !== "t4g.medium").map((t) => ["eu-west-1a", t]),
          ...types.map((t) => ["eu-west-1b", t]),
          ...types.map((t) => ["eu-west-1c", t]),
        ];
        return { id: "offerings", locations: offers.map((o) => o[0]), instanceTypes: offers.map((o) => o[1]), locationTypes: offers.map(() => "availability-zone") };
      }
      case "aws:ec2/getInstances:getInstances": {
        // The stack's instances that exist, by Name tag: none, unless a test deploys over EXISTING_INSTANCES.
        const ip = EXISTING_INSTANCES[(args.inputs.instanceTags as Record<string, string>).Name];
        return { id: "instances", ids: ip ? ["i-existing"] : [], privateIps: ip ? [ip] : [], publicIps: [] };
      }
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return { id: MOCK_ACCOUNT_ID, accountId: MOCK_ACCOUNT_ID, arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/deployer`, userId: "AIDAMOCK" };
      case "aws:index/getPartition:getPartition":
        return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
      default:
        throw new Error(`unexpected invoke in tests: ${args.token}`);
    }
  },
};

/**
 * No Docker engine runs where the unit tests do: on the mocks, the docker target's check of the machine (platform,
 * engine, loopback ports; components/targets/docker/preflight.ts) meets this stand-in: Linux, no Docker setting in the
 * environment (so the default socket), an engine that answers, every port free.
 */
export const STAND_IN_MACHINE: LocalMachine = {
  platform: "linux",
  env: {},
  home: "/nonexistent-home",
  ping: async () => undefined,
  publishedPorts: async () => [],
  isPortFree: async () => true,
};
standInLocalMachine(STAND_IN_MACHINE);

pulumi.runtime.setAllConfig(TEST_CONFIG, [`${PROJECT}:alertWebhookUrl`, `${PROJECT}:alertSlackWebhookUrl`, `${PROJECT}:alertSmtpPassword`]);
pulumi.runtime.setMocks(mocks, PROJECT, STACK, false);
// Without alias specs the SDK computes every alias URN itself, those a child inherits from its parent's aliases
// included, as the engine does from the specs; the tests then see each URN an existing stack's resource answers to.
(state as unknown as { getStore(): { supportsAliasSpecs: boolean } }).getStore().supportsAliasSpecs = false;

type RegisterRequest = {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getProvider(): string;
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
  getAliasurnsList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
};
type Monitor = { registerResource(req: RegisterRequest, callback: unknown): unknown; newUrn(parent: string, type: string, name: string): string };

const monitor = settings.getMonitor() as unknown as Monitor;
const registerResource = monitor.registerResource.bind(monitor);
/**
 * The engine's URN of a registration. The mock monitor names a resource's type after its parent's own type alone
 * (`Bundle$Command`); the engine after the parent's whole chain (`RoleDeployment$Bundle$Command`), which is what an
 * existing stack's URNs are compared with. Keyed by the mock's URN, which is what children name as their parent.
 */
const qualifiedTypes = new Map<string, string>();
function engineUrn(req: RegisterRequest): string {
  const parent = req.getParent();
  const qualifiedType = parent ? `${qualifiedTypes.get(parent) ?? parent.split("::")[2]}$${req.getType()}` : req.getType();
  qualifiedTypes.set(monitor.newUrn(parent, req.getType(), req.getName()), qualifiedType);
  return `urn:pulumi:${STACK}::${PROJECT}::${qualifiedType}::${req.getName()}`;
}
monitor.registerResource = (req, callback) => {
  const raw = req.getObject()?.toJavaScript() ?? {};
  const secretInputs: string[] = [];
  registered.push({
    type: req.getType(),
    name: req.getName(),
    urn: engineUrn(req),
    inputs: unwrapSecrets(raw, "", secretInputs) as Record<string, unknown>,
    dependsOn: req.getDependenciesList().map(urnName),
    aliases: req.getAliasurnsList(),
    secretInputs,
    provider: req.getProvider(),
    ignoreChanges: req.getIgnorechangesList(),
    deleteBeforeReplace: req.getDeletebeforereplace(),
  });
  return registerResource(req, callback);
};

/** Replaces serialized secrets by their values and records where they were (dotted paths). */
function unwrapSecrets(value: unknown, at: string, found: string[]): unknown {
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") {
    found.push(at);
    return unwrapSecrets(record.value, at, []);
  }
  if (Array.isArray(value)) return value.map((item, i) => unwrapSecrets(item, `${at}[${i}]`, found));
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, unwrapSecrets(item, at ? `${at}.${key}` : key, found)]));
}

/**
 * Runs the whole program (index.ts) against the mocks with the given stack config, and returns its outputs and the
 * resources that this run registered (a test file may run the program with another config before or after).
 */
export async function runProgram(config: Record<string, string>): Promise<{ outputs: Record<string, unknown>; resources: Registered[] }> {
  pulumi.runtime.setAllConfig(config);
  const start = registered.length;
  // Imported here, after the mocks are installed: a static import would run the program against no monitor.
  const program = (await import("../index")).default;
  const outputs = (await program()) as unknown as Record<string, unknown>;
  // The outputs resolve only once the resources they come from are registered (the pipeline check's, last of all);
  // then every registration still in flight lands (waitForRPCs is internal to the SDK, untyped): a quiet moment is
  // not enough on a busy machine, and a late one would be counted in the next run.
  await settle(outputs);
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { outputs, resources: registered.slice(start) };
}

/** Resolves every Output in a (nested) value. */
export async function settle(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) return settle(await new Promise((resolve) => value.apply(resolve)));
  if (Array.isArray(value)) return Promise.all(value.map(settle));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await settle(v)])));
  }
  return value;
}
