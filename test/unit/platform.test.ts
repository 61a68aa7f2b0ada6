import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ALERT_SECRETS, registered, Registered, STACK, PROJECT } from "../setup";
import { ROLES, Role } from "../../components/roles";
import { bundleContentHash } from "../../components/bundle";
import { BUNDLE_SOURCES } from "../../components/bundle-env";

const NAME = `${PROJECT}-${STACK}`;
const OPERATORS = ["203.0.113.0/24", "198.51.100.7/32"];

/** Resolves every Output in a (nested) value. */
async function settle(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) return settle(await new Promise((resolve) => value.apply(resolve)));
  if (Array.isArray(value)) return Promise.all(value.map(settle));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await settle(v)])));
  }
  return value;
}

const ofType = (type: string) => registered.filter((r) => r.type === type);
const byName = (name: string): Registered => {
  const found = registered.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}; registered: ${registered.map((r) => r.name).join(", ")}`);
  return found;
};

describe("platform program (Pulumi mocks)", function () {
  this.timeout(60_000);
  let outputs: Record<string, unknown>;
  let resolved: Record<string, unknown>;

  before(async () => {
    // Imported here, after test/setup.ts installed the mocks: a static import would run the program first.
    const program = (await import("../../index")).default;
    outputs = (await program()) as unknown as Record<string, unknown>;
    resolved = (await settle(outputs)) as Record<string, unknown>;
    // Let registrations still in flight land before the assertions read them.
    let count = -1;
    while (count !== registered.length) {
      count = registered.length;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("registers the whole platform against the mocks (guards against a vacuous run)", () => {
    assert.ok(registered.length > 60, `only ${registered.length} resources registered`);
    assert.ok(ofType("logplatform:index:Bundle").length === 4);
  });

  describe("hosts", () => {
    const expectedTypes: Record<Role, string> = { logging: "m7g.large", web: "t4g.small", kafka: "t4g.medium", monitoring: "t4g.small" };
    const expectedVolumes: Record<Role, number> = { logging: 50, web: 20, kafka: 30, monitoring: 30 };

    it("are exactly four instances, one per role, with the configured types", () => {
      const instances = ofType("aws:ec2/instance:Instance");
      assert.equal(instances.length, 4);
      const roles = instances.map((i) => (i.inputs.tags as Record<string, string>).Role).sort();
      assert.deepEqual(roles, [...ROLES].sort());
      for (const instance of instances) {
        const role = (instance.inputs.tags as Record<string, string>).Role as Role;
        assert.equal(instance.inputs.instanceType, expectedTypes[role], role);
        assert.equal(instance.inputs.ami, "ami-0123456789abcdef0");
      }
    });

    it("require IMDSv2 and keep containers away from the metadata service", () => {
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        const metadata = instance.inputs.metadataOptions as Record<string, unknown>;
        assert.equal(metadata.httpTokens, "required", instance.name);
        assert.equal(metadata.httpPutResponseHopLimit, 1, instance.name);
      }
    });

    it("have encrypted gp3 root volumes sized per role", () => {
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        const role = (instance.inputs.tags as Record<string, string>).Role as Role;
        const volume = instance.inputs.rootBlockDevice as Record<string, unknown>;
        assert.equal(volume.encrypted, true, role);
        assert.equal(volume.volumeType, "gp3", role);
        assert.equal(volume.volumeSize, expectedVolumes[role], role);
      }
    });

    it("sit in the zone that offers every configured instance type", () => {
      const [subnet] = ofType("aws:ec2/subnet:Subnet");
      assert.equal(subnet.inputs.availabilityZone, "eu-west-1b");
      assert.equal(subnet.inputs.mapPublicIpOnLaunch, true);
    });

    it("install Docker, compose and node_exporter from Ubuntu's archive; only logging sets vm.max_map_count", () => {
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        const role = (instance.inputs.tags as Record<string, string>).Role;
        const userData = instance.inputs.userData as string;
        assert.match(userData, /^#cloud-config\n/);
        for (const pkg of ["docker.io", "docker-compose-v2", "prometheus-node-exporter"]) assert.ok(userData.includes(`- ${pkg}`), `${role}: ${pkg}`);
        assert.match(userData, /prometheus-node-exporter\.service/);
        assert.ok(userData.includes(`/opt/${PROJECT}`), role);
        assert.equal(userData.includes("vm.max_map_count=262144"), role === "logging", role);
        assert.equal(instance.inputs.userDataReplaceOnChange, true);
      }
    });
  });

  describe("security groups", () => {
    /** ARCHITECTURE.md's port table, written out independently of the program's matrix. */
    const EXPECTED: [Role, number, string][] = [
      ["web", 80, "0.0.0.0/0"],
      ...ROLES.flatMap((role) => OPERATORS.map((cidr): [Role, number, string] => [role, 22, cidr])),
      ...OPERATORS.flatMap((cidr): [Role, number, string][] => [
        ["logging", 5601, cidr], ["monitoring", 3000, cidr], ["monitoring", 9090, cidr], ["logging", 9200, cidr],
        ["monitoring", 9093, cidr],
      ]),
      ["logging", 9200, "sg:logging"],
      ["logging", 9200, "sg:monitoring"],
      ["kafka", 9092, "sg:web"],
      ["kafka", 9092, "sg:logging"],
      ...ROLES.map((role): [Role, number, string] => [role, 9100, "sg:monitoring"]),
      ["web", 2020, "sg:monitoring"],
      ["logging", 2020, "sg:monitoring"],
      ["kafka", 9308, "sg:monitoring"],
      ["logging", 9114, "sg:monitoring"],
      ...ROLES.map((role): [Role, number, string] => [role, 8080, "sg:monitoring"]),
    ];

    const groupRole = (id: unknown): Role => {
      const group = ofType("aws:ec2/securityGroup:SecurityGroup").find((g) => `${g.name}-id` === id);
      assert.ok(group, `unknown security group ${String(id)}`);
      return group.name.slice(`${NAME}-`.length) as Role;
    };
    const describeRule = (rule: Registered): [Role, number, string] => {
      assert.equal(rule.inputs.ipProtocol, "tcp", rule.name);
      assert.equal(rule.inputs.fromPort, rule.inputs.toPort, `${rule.name} opens a range`);
      const from = rule.inputs.cidrIpv4 ?? `sg:${groupRole(rule.inputs.referencedSecurityGroupId)}`;
      return [groupRole(rule.inputs.securityGroupId), rule.inputs.fromPort as number, from as string];
    };

    it("implement the port matrix exactly: every allowed pair and nothing else", () => {
      const actual = ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map(describeRule);
      const key = (r: [Role, number, string]) => r.join(" ");
      assert.deepEqual(actual.map(key).sort(), EXPECTED.map(key).sort());
    });

    it("open nothing to the world but the gateway's HTTP port", () => {
      const open = ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        .filter((r) => r.inputs.cidrIpv4 === "0.0.0.0/0" || r.inputs.cidrIpv6 !== undefined)
        .map(describeRule);
      assert.deepEqual(open, [["web", 80, "0.0.0.0/0"]]);
    });

    it("reference security groups, not IPs, between hosts", () => {
      for (const rule of ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")) {
        const cidr = rule.inputs.cidrIpv4 as string | undefined;
        if (cidr) assert.ok(cidr === "0.0.0.0/0" || OPERATORS.includes(cidr), `${rule.name} allows ${cidr}`);
      }
    });

    it("have no inline rules and one all-outbound egress each", () => {
      for (const group of ofType("aws:ec2/securityGroup:SecurityGroup")) {
        assert.equal(group.inputs.ingress, undefined, group.name);
        assert.equal(group.inputs.egress, undefined, group.name);
      }
      const egress = ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => groupRole(r.inputs.securityGroupId));
      assert.deepEqual(egress.sort(), [...ROLES].sort());
    });
  });

  describe("deployment order", () => {
    const assertWaitsFor = (name: string, dependency: string) => {
      assert.ok(byName(name).dependsOn.includes(dependency), `${name} does not wait for ${dependency}; it waits for ${byName(name).dependsOn.join(", ")}`);
    };

    for (const role of ROLES) {
      it(`${role}: readiness -> prepare -> copy -> rendered files -> compose up`, () => {
        const bundle = `${NAME}-${role}-bundle`;
        assertWaitsFor(`${bundle}-prepare`, `${NAME}-${role}-ready`);
        assertWaitsFor(`${bundle}-copy-${role}`, `${bundle}-prepare`);
        for (const folder of BUNDLE_SOURCES[role].slice(1)) {
          assertWaitsFor(`${bundle}-copy-${folder.replace(/\//g, "-")}`, `${bundle}-copy-${role}`);
          assertWaitsFor(`${bundle}-rendered`, `${bundle}-copy-${folder.replace(/\//g, "-")}`);
        }
        assertWaitsFor(`${bundle}-rendered`, `${bundle}-copy-${role}`);
        assertWaitsFor(`${bundle}-up`, `${bundle}-rendered`);
        assert.match(byName(`${bundle}-up`).inputs.create as string, /docker compose up --detach --wait .*--remove-orphans/);
      });
    }

    it("starts the web and logging bundles after the kafka bundle created the topics", () => {
      assertWaitsFor(`${NAME}-web-bundle-prepare`, `${NAME}-kafka-bundle-up`);
      assertWaitsFor(`${NAME}-logging-bundle-prepare`, `${NAME}-kafka-bundle-up`);
      assert.ok(!byName(`${NAME}-monitoring-bundle-prepare`).dependsOn.some((d) => d.endsWith("-bundle-up")));
    });

    it("checks the pipeline last, stage by stage: web, then kafka, then logging", () => {
      for (const role of ROLES) assertWaitsFor(`${NAME}-pipeline-check-web`, `${NAME}-${role}-bundle-up`);
      assertWaitsFor(`${NAME}-pipeline-check-kafka`, `${NAME}-pipeline-check-web`);
      assertWaitsFor(`${NAME}-pipeline-check-logging`, `${NAME}-pipeline-check-kafka`);
      assert.match(byName(`${NAME}-pipeline-check-logging`).inputs.create as string, /bash checks\/pipeline\.sh$/);
    });

    it("copies every bundle folder to /opt/<project>/<role>/", () => {
      const copies = ofType("command:remote:CopyToRemote");
      for (const role of ROLES) {
        const root = copies.find((c) => c.name === `${NAME}-${role}-bundle-copy-${role}`);
        assert.equal(root?.inputs.remotePath, `/opt/${PROJECT}`);
      }
      const kibana = copies.find((c) => c.name === `${NAME}-logging-bundle-copy-provisioning-kibana`);
      assert.equal(kibana?.inputs.remotePath, `/opt/${PROJECT}/logging/provisioning`);
      const loadgen = copies.find((c) => c.name === `${NAME}-web-bundle-copy-loadgen`);
      assert.equal(loadgen?.inputs.remotePath, `/opt/${PROJECT}/web`);
    });

    it("has no delete step anywhere, so destroy never dials a host", () => {
      for (const command of ofType("command:remote:Command")) assert.equal(command.inputs.delete, undefined, command.name);
    });

    it("keys every step of a bundle on one content hash, distinct per bundle", () => {
      const hashes = ROLES.map((role) => {
        const steps = registered.filter((r) => r.name.startsWith(`${NAME}-${role}-bundle-`) && r.type.startsWith("command:"));
        const triggers = new Set(steps.map((s) => JSON.stringify(s.inputs.triggers)));
        assert.equal(triggers.size, 1, `${role}: steps have different triggers`);
        return [...triggers][0];
      });
      assert.equal(new Set(hashes).size, 4);
    });

    it("renders the monitoring host's file_sd targets from the hosts' private IPs", () => {
      const files = JSON.parse(byName(`${NAME}-monitoring-bundle-rendered`).inputs.stdin as string) as Record<string, string>;
      const node = JSON.parse(files["prometheus/targets/node.json"]) as { targets: string[] }[];
      const instances = ofType("aws:ec2/instance:Instance");
      assert.equal(node.length, 4);
      assert.ok(instances.length === 4 && node.every((g) => /^10\.42\.0\.\d+:9100$/.test(g.targets[0])));
    });
  });

  describe("secrets", () => {
    const PRIVATE_KEY_MARK = "OPENSSH PRIVATE KEY";
    const GRAFANA_PASSWORD = "MockedGrafanaPassword123";

    it("exports the SSH private key and the Grafana password only as secrets", async () => {
      assert.equal(await pulumi.isSecret(outputs.sshPrivateKey as pulumi.Output<string>), true);
      assert.equal(await pulumi.isSecret(outputs.grafanaAdminPassword as pulumi.Output<string>), true);
      assert.match(resolved.sshPrivateKey as string, new RegExp(PRIVATE_KEY_MARK));
      for (const [key, value] of Object.entries(resolved)) {
        if (key === "sshPrivateKey" || key === "grafanaAdminPassword") continue;
        const text = JSON.stringify(value);
        assert.ok(!text.includes(PRIVATE_KEY_MARK) && !text.includes(GRAFANA_PASSWORD), `output ${key} leaks a secret`);
      }
    });

    it("connects over SSH with the key as a secret input", () => {
      const steps = [...ofType("command:remote:Command"), ...ofType("command:remote:CopyToRemote")];
      assert.ok(steps.length > 20);
      for (const step of steps) {
        assert.ok(step.secretInputs.includes("connection.privateKey") || step.secretInputs.includes("connection"), `${step.name}: key not secret`);
      }
    });

    it("ships the Grafana password in the monitoring .env, as a secret, and nowhere in user data", () => {
      const rendered = byName(`${NAME}-monitoring-bundle-rendered`);
      assert.ok(rendered.secretInputs.includes("stdin"), "rendered files are not secret");
      assert.ok((rendered.inputs.stdin as string).includes(`GRAFANA_ADMIN_PASSWORD='${GRAFANA_PASSWORD}'`));
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        const userData = instance.inputs.userData as string;
        assert.ok(!userData.includes(GRAFANA_PASSWORD) && !userData.includes(PRIVATE_KEY_MARK), instance.name);
      }
    });

    it("renders the alert receivers' URLs and SMTP password only into the secret rendered files, never into outputs", async () => {
      const rendered = byName(`${NAME}-monitoring-bundle-rendered`);
      assert.ok(rendered.secretInputs.includes("stdin"), "rendered files are not secret");
      const files = JSON.parse(rendered.inputs.stdin as string) as Record<string, string>;
      const alertmanager = files["secrets/alertmanager.yml"] ?? "";
      for (const secret of ALERT_SECRETS) assert.ok(alertmanager.includes(secret), `alertmanager.yml lacks ${secret}`);
      for (const [file, content] of Object.entries(files)) {
        if (file === "secrets/alertmanager.yml") continue;
        for (const secret of ALERT_SECRETS) assert.ok(!content.includes(secret), `${file} carries ${secret}`);
      }
      for (const resource of registered.filter((r) => r !== rendered)) {
        const text = JSON.stringify(resource.inputs);
        for (const secret of ALERT_SECRETS) {
          assert.ok(!text.includes(secret) || resource.secretInputs.length > 0, `${resource.name} has ${secret} in plain inputs`);
        }
      }
      for (const [key, value] of Object.entries(resolved)) {
        for (const secret of ALERT_SECRETS) assert.ok(!JSON.stringify(value).includes(secret), `output ${key} leaks ${secret}`);
      }
    });

    it("publishes the generated key's public half in the key pair", () => {
      const [keyPair] = ofType("aws:ec2/keyPair:KeyPair");
      assert.equal(keyPair.inputs.publicKey, "ssh-ed25519 AAAAC3MOCKED generated");
    });
  });

  it("exports the URLs and addresses operators need", () => {
    const hosts = resolved.hosts as Record<Role, { publicIp: string; privateIp: string }>;
    assert.deepEqual(Object.keys(hosts).sort(), [...ROLES].sort());
    assert.equal(resolved.gatewayUrl, `http://${hosts.web.publicIp}`);
    assert.equal(resolved.kibanaUrl, `http://${hosts.logging.publicIp}:5601`);
    assert.equal(resolved.grafanaUrl, `http://${hosts.monitoring.publicIp}:3000`);
    assert.equal(resolved.prometheusUrl, `http://${hosts.monitoring.publicIp}:9090`);
    assert.equal(resolved.elasticsearchUrl, `http://${hosts.logging.publicIp}:9200`);
    assert.equal(resolved.sshUser, "ubuntu");
    assert.equal(resolved.environment, "dev");
  });
});

describe("bundle content hash", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-hash-"));
    for (const role of ["web", "kafka"]) {
      fs.mkdirSync(path.join(dir, role, "conf"), { recursive: true });
      fs.writeFileSync(path.join(dir, role, "compose.yaml"), `services: {${role}: {}}\n`);
      fs.writeFileSync(path.join(dir, role, "conf", "a.conf"), "a = 1\n");
    }
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const hash = (role: string, rendered: Record<string, string> = { ".env": "A=1\n" }) => bundleContentHash([path.join(dir, role)], rendered);

  it("is stable when nothing changed", async () => {
    assert.equal(await hash("web"), await hash("web"));
  });

  it("changes when a file of the bundle changes, is added, or a rendered file changes", async () => {
    const before = await hash("web");
    fs.writeFileSync(path.join(dir, "web", "conf", "a.conf"), "a = 2\n");
    const edited = await hash("web");
    assert.notEqual(edited, before);
    fs.writeFileSync(path.join(dir, "web", "conf", "b.conf"), "");
    assert.notEqual(await hash("web"), edited);
    assert.notEqual(await hash("kafka", { ".env": "A=2\n" }), await hash("kafka"));
  });

  it("does not change when another bundle's files change", async () => {
    const before = await hash("kafka");
    fs.writeFileSync(path.join(dir, "web", "compose.yaml"), "services: {}\n");
    assert.equal(await hash("kafka"), before);
  });
});
