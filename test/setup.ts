// Loaded by mocha before any test file (see .mocharc.json): the Pulumi mocks and the stack config must be in place
// before the program is imported, or resources register against no monitor and tests pass vacuously.
import * as pulumi from "@pulumi/pulumi";
// The mock monitor is internal to the SDK; wrapping it is the only way to see each registration's dependencies.
import * as settings from "@pulumi/pulumi/runtime/settings";

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
  /** Dotted paths of the inputs whose values are secrets. */
  secretInputs: string[];
}

export const registered: Registered[] = [];

/** The alert receivers' secret values in TEST_CONFIG: they may appear only where secrets go. */
export const ALERT_SECRETS = ["https://hooks.example.com/alerts/MOCKWEBHOOK", "https://hooks.slack.com/services/T0/B0/MOCKSLACK", "MockSmtpPassword"];

export const TEST_CONFIG: Record<string, string> = {
  "aws:region": "eu-west-1",
  [`${PROJECT}:operatorCidrs`]: JSON.stringify(["203.0.113.0/24", "198.51.100.7/32"]),
  [`${PROJECT}:instanceTypes`]: JSON.stringify({ logging: "m7g.large", kafka: "t4g.medium" }),
  [`${PROJECT}:alertWebhookUrl`]: ALERT_SECRETS[0],
  [`${PROJECT}:alertSlackWebhookUrl`]: ALERT_SECRETS[1],
  [`${PROJECT}:alertEmail`]: JSON.stringify({ to: "ops@example.com", from: "alerts@example.com", smarthost: "smtp.example.com:587", username: "alerts" }),
  [`${PROJECT}:alertSmtpPassword`]: ALERT_SECRETS[2],
};

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const urnName = (urn: string) => urn.split("::").pop() ?? urn;

let counter = 0;
const mocks: pulumi.runtime.Mocks = {
  newResource(args) {
    counter += 1;
    const state: Record<string, unknown> = { ...args.inputs };
    switch (args.type) {
      case "aws:ec2/instance:Instance":
        state.publicIp = `198.51.100.${counter}`;
        state.privateIp = `10.42.0.${counter}`;
        break;
      case "tls:index/privateKey:PrivateKey":
        state.privateKeyOpenssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nMOCKED\n-----END OPENSSH PRIVATE KEY-----\n";
        state.publicKeyOpenssh = "ssh-ed25519 AAAAC3MOCKED generated";
        break;
      case "random:index/randomPassword:RandomPassword":
        state.result = "MockedGrafanaPassword123";
        break;
      case "aws:ec2/keyPair:KeyPair":
        state.keyName = args.name;
        break;
      case "command:remote:Command":
        state.stdout = `${args.name} ok`;
        break;
    }
    return { id: `${args.name}-id`, state };
  },
  call(args) {
    switch (args.token) {
      case "aws:ec2/getAmi:getAmi":
        return { id: "ami-0123456789abcdef0", architecture: (args.inputs.filters as { name: string; values: string[] }[]).find((f) => f.name === "architecture")?.values[0] };
      case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
        const types = (args.inputs.filters as { values: string[] }[])[0].values;
        // Zone a lacks t4g.medium, zone b offers everything: the network must pick b.
        const offers = [
          ...types.filter((t) => t !== "t4g.medium").map((t) => ["eu-west-1a", t]),
          ...types.map((t) => ["eu-west-1b", t]),
        ];
        return { id: "offerings", locations: offers.map((o) => o[0]), instanceTypes: offers.map((o) => o[1]), locationTypes: offers.map(() => "availability-zone") };
      }
      default:
        throw new Error(`unexpected invoke in tests: ${args.token}`);
    }
  },
};

pulumi.runtime.setAllConfig(TEST_CONFIG, [`${PROJECT}:alertWebhookUrl`, `${PROJECT}:alertSlackWebhookUrl`, `${PROJECT}:alertSmtpPassword`]);
pulumi.runtime.setMocks(mocks, PROJECT, STACK, false);

type RegisterRequest = {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
};
type Monitor = { registerResource(req: RegisterRequest, callback: unknown): unknown; newUrn(parent: string, type: string, name: string): string };

const monitor = settings.getMonitor() as unknown as Monitor;
const registerResource = monitor.registerResource.bind(monitor);
monitor.registerResource = (req, callback) => {
  const raw = req.getObject()?.toJavaScript() ?? {};
  const secretInputs: string[] = [];
  registered.push({
    type: req.getType(),
    name: req.getName(),
    urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
    inputs: unwrapSecrets(raw, "", secretInputs) as Record<string, unknown>,
    dependsOn: req.getDependenciesList().map(urnName),
    secretInputs,
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
