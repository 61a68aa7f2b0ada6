import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ALERT_SECRETS, EXISTING_INSTANCES, Registered, STACK, PROJECT, TEST_CONFIG, mockImageId, mockPem, runProgram, settle } from "../setup";
import { ROLES, Role } from "../../components/platform/roles";
import { bundleContentHash } from "../../components/bundles/files";
import { ubuntuImageName } from "../../components/targets/aws/ec2-host";
import { DATA_VOLUME_TAG } from "../../components/targets/aws/snapshots";
import { DEFAULT_DATA_VOLUME_GIB } from "../../components/config/keys";
import { Network, instanceTypeOfferings, subnetZonesRefusal, zoneLossCosts, zoneRefusal, zonesOffering } from "../../components/targets/aws/network";
import { carveSubnets } from "../../components/platform/subnets";
import { MemberCounts, ONE_OF_EACH, zoneSlot } from "../../components/platform/topology";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { ALERTMANAGER_CONFIG_PATH } from "../../components/bundles/alertmanager-config";
import { MONITORING_USERS, WEB_USERS } from "../../components/credentials/monitoring";
import { lookups } from "../helpers/registered";
import * as bcrypt from "bcryptjs";
import { parse } from "yaml";
import { parse as parseDotEnv } from "dotenv";

const NAME = `${PROJECT}-${STACK}`;
const OPERATORS = ["203.0.113.0/24", "198.51.100.7/32"];
/** TEST_CONFIG's instance types. */
const expectedTypes: Record<Role, string> = { logging: "m7g.large", web: "t4g.small", kafka: "t4g.medium", monitoring: "t3.small" };

/** What the program registered with TEST_CONFIG (the aws target). */
let registered: Registered[] = [];
const { ofType, byName } = lookups(() => registered);

describe("platform program (Pulumi mocks)", function () {
  this.timeout(60_000);
  let outputs: Record<string, unknown>;
  let resolved: Record<string, unknown>;

  before(async () => {
    ({ outputs, resources: registered } = await runProgram(TEST_CONFIG));
    resolved = (await settle(outputs)) as Record<string, unknown>;
  });

  it("registers the whole platform against the mocks (guards against a vacuous run)", () => {
    assert.ok(registered.length > 60, `only ${registered.length} resources registered`);
    assert.ok(ofType("logplatform:index:Bundle").length === 4);
  });

  describe("hosts", () => {
    const expectedVolumes: Record<Role, number> = { logging: 50, web: 20, kafka: 30, monitoring: 30 };

    it("are exactly four instances, one per role, with the configured types", () => {
      const instances = ofType("aws:ec2/instance:Instance");
      assert.equal(instances.length, 4);
      const roles = instances.map((i) => (i.inputs.tags as Record<string, string>).Role).sort();
      assert.deepEqual(roles, [...ROLES].sort());
      for (const instance of instances) {
        const role = (instance.inputs.tags as Record<string, string>).Role as Role;
        assert.equal(instance.inputs.instanceType, expectedTypes[role], role);
      }
    });

    it("boot the pinned Ubuntu build of their architecture, so an architecture change replaces the host", () => {
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        const role = (instance.inputs.tags as Record<string, string>).Role as Role;
        const architecture = role === "monitoring" ? "x86_64" : "arm64";
        assert.equal(instance.inputs.ami, mockImageId(ubuntuImageName(architecture)), role);
        // An ignored image would keep the old architecture's image through the replacement.
        assert.deepEqual(instance.ignoreChanges, [], role);
      }
      assert.match(ubuntuImageName("x86_64"), /^ubuntu\/images\/hvm-ssd-gp3\/ubuntu-noble-24\.04-amd64-server-\d{8}$/);
      assert.equal(ubuntuImageName("arm64").replace("arm64", "amd64"), ubuntuImageName("x86_64"));
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

    it("sit in the zone that offers every configured instance type, chosen once for the subnet", () => {
      const [subnet] = ofType("aws:ec2/subnet:Subnet");
      assert.equal(subnet.inputs.availabilityZone, "eu-west-1b");
      assert.equal(subnet.inputs.mapPublicIpOnLaunch, true);
      assert.deepEqual(subnet.ignoreChanges, ["availabilityZone"]);
      for (const instance of ofType("aws:ec2/instance:Instance")) assert.equal(instance.inputs.availabilityZone, "eu-west-1b", instance.name);
    });

    it("use a subnet carved from the VPC range, leaving room for subnets in more zones", () => {
      const [subnet] = ofType("aws:ec2/subnet:Subnet");
      assert.equal(subnet.inputs.cidrBlock, "10.42.0.0/18");
      assert.equal(subnet.deleteBeforeReplace, true, "a replacement subnet would overlap the old one");
    });

    it("wait, when (re)started, for cloud-init with a bound, then converge packages and services", () => {
      for (const role of ROLES) {
        const ready = byName(`${NAME}-${role}-ready`);
        const script = ready.inputs.create as string;
        assert.match(script, new RegExp(`^HOST_ROLE='${role}'$`, "m"));
        assert.match(script, /^BUNDLE_ROOT='\/opt\/aws-log-platform'$/m);
        assert.match(script, /timeout "\$wait_seconds" cloud-init status --wait/);
        assert.match(script, /apt-get install --no-upgrade/);
        // Again when the instance is replaced or resized, and when its data volume grows.
        assert.deepEqual(ready.inputs.triggers, [`${NAME}-${role}-id ${expectedTypes[role]}`, DEFAULT_DATA_VOLUME_GIB[role]]);
      }
    });

    it("keep their data on an encrypted gp3 volume of their own, sized per role, mounted before anything starts", () => {
      const volumes = ofType("aws:ebs/volume:Volume");
      assert.equal(volumes.length, 4);
      for (const role of ROLES) {
        const volume = byName(`${NAME}-${role}-data`);
        const instance = ofType("aws:ec2/instance:Instance").find((i) => i.name === `${NAME}-${role}`)!;
        assert.equal(volume.type, "aws:ebs/volume:Volume");
        assert.equal(volume.inputs.encrypted, true, role);
        assert.equal(volume.inputs.type, "gp3", role);
        assert.equal(volume.inputs.size, DEFAULT_DATA_VOLUME_GIB[role], role);
        assert.equal(volume.inputs.availabilityZone, instance.inputs.availabilityZone, `${role}: in its instance's zone`);
        assert.deepEqual(volume.inputs.tags, { Name: `${NAME}-${role}-data`, Role: role, [DATA_VOLUME_TAG]: NAME });
        const attachment = ofType("aws:ec2/volumeAttachment:VolumeAttachment").find((a) => a.name === `${NAME}-${role}-data`)!;
        assert.equal(attachment.inputs.volumeId, `${NAME}-${role}-data-id`);
        assert.equal(attachment.inputs.instanceId, `${NAME}-${role}-id`);
        assert.equal(attachment.inputs.stopInstanceBeforeDetaching, true, "detached only from a stopped instance");
        const ready = byName(`${NAME}-${role}-ready`);
        assert.ok(ready.dependsOn.includes(attachment.name), `${role}: readiness waits for the attachment`);
        assert.match(ready.inputs.create as string, new RegExp(`^DATA_VOLUME_ID='${NAME}-${role}-data-id'$`, "m"));
      }
    });

    it("keep the data volume when the instance is replaced: the old instance and its attachment go first, the volume stays", () => {
      for (const role of ROLES) {
        const volume = byName(`${NAME}-${role}-data`);
        assert.ok(!volume.dependsOn.includes(`${NAME}-${role}`), `${role}: the volume does not follow its instance`);
        const instance = ofType("aws:ec2/instance:Instance").find((i) => i.name === `${NAME}-${role}`)!;
        assert.equal(instance.deleteBeforeReplace, true, `${role}: the instance`);
        const attachment = ofType("aws:ec2/volumeAttachment:VolumeAttachment").find((a) => a.name === `${NAME}-${role}-data`)!;
        assert.equal(attachment.deleteBeforeReplace, true, `${role}: the attachment`);
      }
    });

    it("snapshot every data volume daily with Data Lifecycle Manager, kept dataSnapshotDays (7) days", () => {
      const [policy] = ofType("aws:dlm/lifecyclePolicy:LifecyclePolicy");
      const details = policy.inputs.policyDetails as { resourceTypes: string[]; targetTags: Record<string, string>; schedules: Record<string, Record<string, unknown>>[] };
      assert.deepEqual(details.resourceTypes, ["VOLUME"]);
      assert.deepEqual(details.targetTags, { [DATA_VOLUME_TAG]: NAME }, "the tag every data volume carries");
      assert.equal(details.schedules.length, 1);
      assert.deepEqual(details.schedules[0].createRule, { interval: 24, intervalUnit: "HOURS", times: "03:00" });
      assert.deepEqual(details.schedules[0].retainRule, { interval: 7, intervalUnit: "DAYS" });
      assert.equal(policy.inputs.state, "ENABLED");
      const role = byName(`${NAME}-data-snapshots-dlm`);
      assert.ok(policy.dependsOn.includes(role.name), "runs as its own service role");
      assert.match(JSON.stringify(role.inputs.assumeRolePolicy), /dlm\.amazonaws\.com/);
      const attachment = ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").find((a) => a.name === `${NAME}-data-snapshots-dlm`)!;
      assert.match(attachment.inputs.policyArn as string, /^arn:aws:iam::aws:policy\/service-role\/AWSDataLifecycleManagerServiceRole$/);
    });

    it("keep an existing instance's private address, so its replacement takes it over; not one outside its subnet", async () => {
      assert.equal(ofType("aws:ec2/instance:Instance")[0].inputs.privateIp, undefined, "a first deploy: AWS assigns them");
      EXISTING_INSTANCES[`${NAME}-web`] = "10.42.0.23";
      EXISTING_INSTANCES[`${NAME}-kafka`] = "10.42.200.7";
      try {
        const { resources } = await runProgram(TEST_CONFIG);
        const instance = (role: Role) => resources.find((r) => r.type === "aws:ec2/instance:Instance" && r.name === `${NAME}-${role}`)!;
        assert.equal(instance("web").inputs.privateIp, "10.42.0.23");
        assert.equal(instance("kafka").inputs.privateIp, undefined, "10.42.200.7 is not in 10.42.0.0/18");
        assert.equal(instance("logging").inputs.privateIp, undefined, "no such instance yet");
      } finally {
        delete EXISTING_INSTANCES[`${NAME}-web`];
        delete EXISTING_INSTANCES[`${NAME}-kafka`];
      }
    });

    it("takes no snapshots with dataSnapshotDays 0, and refuses a negative count naming the key", async () => {
      const { resources } = await runProgram({ ...TEST_CONFIG, [`${PROJECT}:dataSnapshotDays`]: "0" });
      assert.equal(resources.filter((r) => r.type === "aws:dlm/lifecyclePolicy:LifecyclePolicy").length, 0);
      assert.equal(resources.filter((r) => r.type === "aws:ebs/volume:Volume").length, 4, "the data volumes stay");
      await assert.rejects(runProgram({ ...TEST_CONFIG, [`${PROJECT}:dataSnapshotDays`]: "-1" }), /dataSnapshotDays = "-1": expected an integer from 0 to 365/);
      ({ resources: registered } = await runProgram(TEST_CONFIG));
    });

    it("install Docker, compose and node_exporter from Ubuntu's archive; only logging sets vm.max_map_count", () => {
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        const role = (instance.inputs.tags as Record<string, string>).Role;
        const userData = instance.inputs.userData as string;
        assert.match(userData, /^#cloud-config\n/);
        for (const pkg of ["docker.io", "docker-compose-v2", "prometheus-node-exporter", "rsync"]) assert.ok(userData.includes(`- ${pkg}`), `${role}: ${pkg}`);
        assert.match(userData, /Acquire::Retries/);
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
      // From outside only SSH and the gateway: the admin UIs go through the SSH tunnel.
      ...ROLES.flatMap((role) => OPERATORS.map((cidr): [Role, number, string] => [role, 22, cidr])),
      ["logging", 9200, "sg:logging"],
      ["logging", 9200, "sg:monitoring"],
      // Every host's forwarder produces (the kafka host's own stays on the host); the aggregator consumes.
      ["kafka", 9092, "sg:web"],
      ["kafka", 9092, "sg:logging"],
      ["kafka", 9092, "sg:monitoring"],
      ...ROLES.map((role): [Role, number, string] => [role, 9100, "sg:monitoring"]),
      ...ROLES.map((role): [Role, number, string] => [role, 2021, "sg:monitoring"]),
      ...ROLES.map((role): [Role, number, string] => [role, 2023, "sg:monitoring"]),
      ["logging", 2020, "sg:monitoring"],
      ["web", 2022, "sg:monitoring"],
      ["kafka", 9308, "sg:monitoring"],
      ["logging", 9114, "sg:monitoring"],
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

    it("keep the ingest endpoint closed by default, and open its two ports to logSourceCidrs only", async () => {
      const ingest = (rules: Registered[]) => rules.map(describeRule).filter(([, port]) => port === 24224 || port === 4318).map((r) => r.join(" ")).sort();
      assert.deepEqual(ingest(ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")), []);
      const sources = ["192.0.2.0/24", "198.51.100.64/26"];
      const { resources } = await runProgram({ ...TEST_CONFIG, [`${PROJECT}:logSourceCidrs`]: JSON.stringify(sources) });
      const rules = resources.filter((r) => r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
      const open = rules.filter((r) => r.inputs.fromPort === 24224 || r.inputs.fromPort === 4318);
      assert.deepEqual(
        open.map((r) => `${r.inputs.securityGroupId} ${String(r.inputs.fromPort)} ${String(r.inputs.cidrIpv4)}`).sort(),
        sources.flatMap((cidr) => [24224, 4318].map((port) => `${NAME}-web-id ${port} ${cidr}`)).sort(),
      );
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

    it("starts the web and logging bundles after the kafka bundle created the topics, monitoring without waiting", () => {
      assertWaitsFor(`${NAME}-web-bundle-prepare`, `${NAME}-kafka-bundle-up`);
      assertWaitsFor(`${NAME}-logging-bundle-prepare`, `${NAME}-kafka-bundle-up`);
      for (const role of ["kafka", "monitoring"]) assert.ok(!byName(`${NAME}-${role}-bundle-prepare`).dependsOn.some((d) => d.endsWith("-bundle-up")), role);
    });

    it("checks the pipeline last, stage by stage: web, then kafka, then logging", () => {
      for (const role of ROLES) assertWaitsFor(`${NAME}-pipeline-check-web`, `${NAME}-${role}-bundle-up`);
      assertWaitsFor(`${NAME}-pipeline-check-kafka`, `${NAME}-pipeline-check-web`);
      assertWaitsFor(`${NAME}-pipeline-check-logging`, `${NAME}-pipeline-check-kafka`);
      assert.match(byName(`${NAME}-pipeline-check-logging`).inputs.create as string, /bash checks\/pipeline\.sh$/);
    });

    it("copies every bundle folder to a staging folder named after the content hash, then syncs it to /opt/<project>/<role>/", () => {
      const copies = ofType("command:remote:CopyToRemote");
      const staging = (role: Role) => {
        const root = copies.find((c) => c.name === `${NAME}-${role}-bundle-copy-${role}`);
        const match = new RegExp(`^/opt/${PROJECT}/\\.staging/${role}-([0-9a-f]{16})$`).exec(root?.inputs.remotePath as string);
        assert.ok(match, `${role}: copied to ${String(root?.inputs.remotePath)}`);
        assert.ok((root?.inputs.triggers as string[])[0].startsWith(match[1]), `${role}: the staging folder is not the content hash's`);
        assert.match(byName(`${NAME}-${role}-bundle-up`).inputs.create as string, new RegExp(`rsync .*'${match[0]}/${role}/' '/opt/${PROJECT}/${role}/'`));
        return match[0];
      };
      for (const role of ROLES) staging(role);
      const kibana = copies.find((c) => c.name === `${NAME}-logging-bundle-copy-provisioning-kibana`);
      assert.equal(kibana?.inputs.remotePath, `${staging("logging")}/logging/provisioning`);
      const loadgen = copies.find((c) => c.name === `${NAME}-web-bundle-copy-loadgen`);
      assert.equal(loadgen?.inputs.remotePath, `${staging("web")}/web`);
    });

    it("never deletes a deployed bundle, never forces a recreate, and re-copies on a new or resized host or new content", () => {
      for (const role of ROLES) {
        const steps = registered.filter((r) => r.name.startsWith(`${NAME}-${role}-bundle-`) && r.type.startsWith("command:"));
        for (const step of steps) {
          const create = (step.inputs.create as string | undefined) ?? "";
          assert.doesNotMatch(create, new RegExp(`rm -rf '/opt/${PROJECT}/${role}'`), step.name);
          assert.doesNotMatch(create, /--force-recreate/, step.name);
          assert.deepEqual((step.inputs.triggers as string[])[1], `${NAME}-${role}-id ${expectedTypes[role]}`, `${step.name}: not keyed on the instance and its type`);
        }
      }
    });

    it("has no delete step anywhere, so destroy never dials a host", () => {
      for (const command of ofType("command:remote:Command")) assert.equal(command.inputs.delete, undefined, command.name);
    });

    it("keys every step of a bundle on one content hash (and its host), distinct per bundle", () => {
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

  describe("ingest endpoint", () => {
    const certificate = (name: string) => ofType("tls:index/locallySignedCert:LocallySignedCert").find((r) => r.name === name)!.inputs;
    const requestOf = (name: string) => ofType("tls:index/certRequest:CertRequest").find((r) => r.name === name)!.inputs;

    it("exports where to send and what to trust; the key, passwords and client keys only in ingestCredentials", () => {
      const hosts = resolved.hosts as Record<Role, { publicIp: string; privateIp: string }>;
      assert.deepEqual(resolved.ingest, {
        address: hosts.web.publicIp,
        privateAddress: hosts.web.privateIp,
        forwardPort: 24224,
        otlpPort: 4318,
        localForwardPort: 24224,
        caCertificate: resolved.elasticsearchCaCertificate,
        sources: ["platform", "default"],
        allowedCidrs: [],
      });
      const credentials = resolved.ingestCredentials as { sharedKey: string; sources: Record<string, { password: string; clientCertificate: string; clientKey: string }> };
      assert.equal(credentials.sharedKey, `Mocked${NAME.replace(/[^A-Za-z0-9]/g, "")}ingestsharedkey`);
      assert.deepEqual(Object.keys(credentials.sources), ["platform", "default"]);
      for (const [source, { password, clientCertificate, clientKey }] of Object.entries(credentials.sources)) {
        assert.equal(password, `Mocked${`${NAME}-ingest-${source}`.replace(/[^A-Za-z0-9]/g, "")}`);
        assert.equal(clientCertificate, mockPem("CERTIFICATE", `${NAME}-ingest-${source}`));
        assert.equal(clientKey, mockPem("PRIVATE KEY", `${NAME}-ingest-${source}`));
      }
    });

    it("serves a certificate of the platform CA naming the web host's public and private addresses", () => {
      const hosts = resolved.hosts as Record<Role, { publicIp: string; privateIp: string }>;
      const request = requestOf(`${NAME}-ingest-server`);
      assert.deepEqual(request.ipAddresses, [hosts.web.publicIp, hosts.web.privateIp, "127.0.0.1"]);
      assert.deepEqual(request.dnsNames, ["ingest", "localhost"]);
      const signed = certificate(`${NAME}-ingest-server`);
      assert.equal(signed.caCertPem, resolved.elasticsearchCaCertificate);
      assert.deepEqual(signed.allowedUses, ["digital_signature", "key_encipherment", "server_auth"]);
    });

    it("signs each source's client certificate by a CA of its own, which Elasticsearch does not trust", () => {
      for (const source of ["platform", "default"]) {
        const signed = certificate(`${NAME}-ingest-${source}`);
        assert.deepEqual(signed.allowedUses, ["digital_signature", "key_encipherment", "client_auth"]);
        assert.equal((requestOf(`${NAME}-ingest-${source}`).subject as { commonName: string }).commonName, source);
        assert.equal(signed.caCertPem, mockPem("CERTIFICATE", `${NAME}-ingest-client-ca`));
        assert.notEqual(signed.caCertPem, resolved.elasticsearchCaCertificate);
      }
    });

    it("renders the forward input with the shared key and one user per source, into the web bundle's secret files", () => {
      const files = JSON.parse(byName(`${NAME}-web-bundle-rendered`).inputs.stdin as string) as Record<string, string>;
      const input = parse(files["secrets/ingest/forward-input.yaml"]) as { pipeline: { inputs: Record<string, unknown>[] } };
      const forward = input.pipeline.inputs[0];
      assert.equal(forward.name, "forward");
      assert.equal(forward.shared_key, `Mocked${NAME.replace(/[^A-Za-z0-9]/g, "")}ingestsharedkey`);
      assert.deepEqual(forward["security.users"], ["platform", "default"].map((source) => `${source} Mocked${`${NAME}-ingest-${source}`.replace(/[^A-Za-z0-9]/g, "")}`));
      assert.equal(files["secrets/ingest/server.key"], mockPem("PRIVATE KEY", `${NAME}-ingest-server`));
      assert.equal(files["secrets/ingest/client-ca.crt"], mockPem("CERTIFICATE", `${NAME}-ingest-client-ca`));
      assert.ok(!files[".env"].includes("ingestsharedkey"), "the shared key stays out of .env");
    });
  });

  describe("secrets", () => {
    const PRIVATE_KEY_MARK = "OPENSSH PRIVATE KEY";
    const GRAFANA_PASSWORD = "MockedGrafanaPassword123";

    it("exports the SSH private key, the Grafana password and the ingest credentials only as secrets", async () => {
      assert.equal(await pulumi.isSecret(outputs.sshPrivateKey as pulumi.Output<string>), true);
      assert.equal(await pulumi.isSecret(outputs.grafanaAdminPassword as pulumi.Output<string>), true);
      assert.equal(await pulumi.isSecret(outputs.ingestCredentials as pulumi.Output<unknown>), true);
      assert.match(resolved.sshPrivateKey as string, new RegExp(PRIVATE_KEY_MARK));
      for (const [key, value] of Object.entries(resolved)) {
        if (key === "sshPrivateKey" || key === "grafanaAdminPassword" || key === "ingestCredentials") continue;
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

    it("generates Kibana's encryption keys once, as secrets, and ships them in the logging .env only", async () => {
      const variables: Record<string, string> = {
        KIBANA_ENCRYPTED_SAVED_OBJECTS_KEY: `${NAME}-kibana-saved-objects-key`,
        KIBANA_REPORTING_KEY: `${NAME}-kibana-reporting-key`,
        KIBANA_SECURITY_KEY: `${NAME}-kibana-security-key`,
      };
      const mocked = (resource: string) => `Mocked${resource.replace(/[^A-Za-z0-9]/g, "")}`;
      for (const resource of Object.values(variables)) {
        // Static inputs and no keepers: a second `pulumi up` finds the same resource and keeps its value, which
        // Kibana needs (a new key makes encrypted saved objects unreadable). 32 characters is Kibana's minimum.
        assert.deepEqual(byName(resource).inputs, { length: 32, special: false }, resource);
      }
      const logging = byName(`${NAME}-logging-bundle-rendered`);
      assert.ok(logging.secretInputs.includes("stdin"), "rendered files are not secret");
      const loggingEnv = JSON.parse(logging.inputs.stdin as string)[".env"] as string;
      for (const [variable, resource] of Object.entries(variables)) {
        assert.ok(loggingEnv.split("\n").includes(`${variable}='${mocked(resource)}'`), `${variable} is not ${resource}`);
      }
      const keys = Object.values(variables).map(mocked);
      for (const role of ROLES.filter((r) => r !== "logging")) {
        const stdin = byName(`${NAME}-${role}-bundle-rendered`).inputs.stdin as string;
        assert.ok(!keys.some((key) => stdin.includes(key)), `a Kibana key reaches the ${role} host`);
      }
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        assert.ok(!keys.some((key) => (instance.inputs.userData as string).includes(key)), `${instance.name}: user data`);
      }
      for (const [output, value] of Object.entries(resolved)) {
        assert.ok(!keys.some((key) => JSON.stringify(value).includes(key)), `output ${output} leaks a Kibana key`);
      }
      const holders = registered.filter((r) => keys.some((key) => JSON.stringify(r.inputs).includes(key))).map((r) => r.name);
      assert.deepEqual(holders, [logging.name], "only the logging bundle's rendered files (a secret stdin) carry the keys");
    });

    it("renders the alert receivers' URLs and SMTP password only into the secret rendered files, never into outputs", async () => {
      const rendered = byName(`${NAME}-monitoring-bundle-rendered`);
      assert.ok(rendered.secretInputs.includes("stdin"), "rendered files are not secret");
      const files = JSON.parse(rendered.inputs.stdin as string) as Record<string, string>;
      const alertmanager = files[ALERTMANAGER_CONFIG_PATH] ?? "";
      for (const secret of ALERT_SECRETS) assert.ok(alertmanager.includes(secret), `alertmanager.yml lacks ${secret}`);
      for (const [file, content] of Object.entries(files)) {
        if (file === ALERTMANAGER_CONFIG_PATH) continue;
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

    it("generates Prometheus' and Alertmanager's passwords once, as secrets: bcrypt hashes in the secret web configs", async () => {
      const mocked = (resource: string) => `Mocked${resource.replace(/[^A-Za-z0-9]/g, "")}`;
      const passwords = Object.fromEntries(MONITORING_USERS.map((user) => [user, mocked(`${NAME}-monitoring-${user}`)]));
      for (const user of MONITORING_USERS) {
        // Static inputs: a second `pulumi up` keeps password and salt, so the hashes (and the services) stay as they are.
        assert.deepEqual(byName(`${NAME}-monitoring-${user}`).inputs, { length: 24, special: false }, user);
        assert.deepEqual(byName(`${NAME}-monitoring-${user}-salt`).inputs, { length: 16 }, user);
      }
      const rendered = byName(`${NAME}-monitoring-bundle-rendered`);
      assert.ok(rendered.secretInputs.includes("stdin"), "rendered files are not secret");
      const files = JSON.parse(rendered.inputs.stdin as string) as Record<string, string>;
      for (const [server, users] of Object.entries(WEB_USERS)) {
        const file = files[`secrets/${server}/web.yml`];
        assert.ok(file, `no secrets/${server}/web.yml among ${Object.keys(files).join(", ")}`);
        const hashes = (parse(file) as { basic_auth_users: Record<string, string> }).basic_auth_users;
        assert.deepEqual(Object.keys(hashes).sort(), [...users].sort(), server);
        for (const user of users) assert.ok(bcrypt.compareSync(passwords[user], hashes[user]), `${server}: ${user}'s hash`);
        assert.equal(files[`secrets/${server}/password`], passwords[server]);
      }
      assert.ok(files[".env"].split("\n").includes(`MONITORING_GRAFANA_PASSWORD='${passwords.grafana}'`));
      // The same program run again renders the same hashes: nothing restarts on an unchanged `pulumi up`.
      const again = await runProgram(TEST_CONFIG);
      const filesAgain = JSON.parse(again.resources.find((r) => r.name === rendered.name)?.inputs.stdin as string) as Record<string, string>;
      assert.equal(filesAgain["secrets/prometheus/web.yml"], files["secrets/prometheus/web.yml"]);

      assert.equal(await pulumi.isSecret(outputs.monitoringOperatorPassword as pulumi.Output<string>), true);
      assert.equal(resolved.monitoringOperatorPassword, passwords.operator);
      for (const [key, value] of Object.entries(resolved)) {
        if (key === "monitoringOperatorPassword") continue;
        for (const password of Object.values(passwords)) assert.ok(!JSON.stringify(value).includes(password), `output ${key} leaks ${password}`);
      }
      for (const instance of ofType("aws:ec2/instance:Instance")) {
        for (const password of Object.values(passwords)) assert.ok(!(instance.inputs.userData as string).includes(password), instance.name);
      }
      const holders = registered.filter((r) => Object.values(passwords).some((p) => JSON.stringify(r.inputs).includes(p))).map((r) => r.name);
      assert.deepEqual(holders, [rendered.name], "only the monitoring bundle's rendered files (a secret stdin) carry them");
    });

    it("publishes the generated key's public half in the key pair", () => {
      const [keyPair] = ofType("aws:ec2/keyPair:KeyPair");
      assert.equal(keyPair.inputs.publicKey, "ssh-ed25519 AAAAC3MOCKED generated");
    });
  });

  it("exports the URLs and addresses operators need: the UIs at the tunnel's local ends", () => {
    const hosts = resolved.hosts as Record<Role, { publicIp: string; privateIp: string }>;
    assert.deepEqual(Object.keys(hosts).sort(), [...ROLES].sort());
    assert.equal(resolved.gatewayUrl, `http://${hosts.web.publicIp}`);
    assert.equal(resolved.kibanaUrl, "http://127.0.0.1:5601");
    assert.equal(resolved.grafanaUrl, "http://127.0.0.1:3000");
    assert.equal(resolved.prometheusUrl, "http://127.0.0.1:9090");
    assert.equal(resolved.alertmanagerUrl, "http://127.0.0.1:9093");
    assert.equal(resolved.elasticsearchUrl, "https://127.0.0.1:9200");
    // The UIs build their links on the same URLs: the operator's browser can follow them.
    const monitoringEnv = parseDotEnv(JSON.parse(byName(`${NAME}-monitoring-bundle-rendered`).inputs.stdin as string)[".env"]);
    assert.deepEqual(
      [monitoringEnv.KIBANA_URL, monitoringEnv.GRAFANA_URL, monitoringEnv.PROMETHEUS_URL, monitoringEnv.ALERTMANAGER_URL],
      [resolved.kibanaUrl, resolved.grafanaUrl, resolved.prometheusUrl, resolved.alertmanagerUrl]);
    assert.deepEqual(resolved.tunnels, [
      { member: "logging", host: hosts.logging.publicIp, sshPort: 22, ports: [5601, 9200] },
      { member: "monitoring", host: hosts.monitoring.publicIp, sshPort: 22, ports: [3000, 9090, 9093] },
      // The ingest endpoint's forward port, which verify sends through whatever logSourceCidrs opens.
      { member: "web", host: hosts.web.publicIp, sshPort: 22, ports: [24224] },
    ]);
    assert.equal(resolved.monitoringOperatorUser, "operator");
    assert.equal(resolved.sshUser, "ubuntu");
    assert.equal(resolved.environment, "dev");
  });

  it("moves the tunnel's local ends, and the URLs with them, to localPorts; the hosts' ends stay", async () => {
    const run = await runProgram({ ...TEST_CONFIG, [`${PROJECT}:localPorts`]: JSON.stringify({ kibana: 15601, grafana: 13000 }) });
    const moved = (await settle(run.outputs)) as Record<string, unknown>;
    const hosts = moved.hosts as Record<Role, { publicIp: string }>;
    assert.equal(moved.kibanaUrl, "http://127.0.0.1:15601");
    assert.equal(moved.grafanaUrl, "http://127.0.0.1:13000");
    assert.equal(moved.elasticsearchUrl, "https://127.0.0.1:9200");
    assert.deepEqual(moved.tunnels, [
      { member: "logging", host: hosts.logging.publicIp, sshPort: 22, ports: [15601, 9200], hostPorts: [5601, 9200] },
      { member: "monitoring", host: hosts.monitoring.publicIp, sshPort: 22, ports: [13000, 9090, 9093], hostPorts: [3000, 9090, 9093] },
      { member: "web", host: hosts.web.publicIp, sshPort: 22, ports: [24224] },
    ]);
    const rendered = run.resources.find((r) => r.name === `${NAME}-monitoring-bundle-rendered`)!;
    const env = parseDotEnv(JSON.parse(rendered.inputs.stdin as string)[".env"]);
    assert.equal(env.KIBANA_URL, "http://127.0.0.1:15601", "the alerts' links to Kibana open at the moved local end");
  });
});

describe("network layout", () => {
  it("carves the VPC range into four equal subnets in address order", () => {
    assert.deepEqual(carveSubnets("10.42.0.0/16"), ["10.42.0.0/18", "10.42.64.0/18", "10.42.128.0/18", "10.42.192.0/18"]);
    assert.deepEqual(carveSubnets("192.168.7.0/24"), ["192.168.7.0/26", "192.168.7.64/26", "192.168.7.128/26", "192.168.7.192/26"]);
  });

  it("refuses, naming type and zone, instance types the subnet's kept zone does not offer", async () => {
    // Zone a (where this subnet stays) lacks t4g.medium in the mocks.
    const network = new Network("kept-zone", { vpcCidr: "10.9.0.0/16", instanceTypes: ["t4g.small", "t4g.medium"], offerings: await instanceTypeOfferings(["t4g.small", "t4g.medium"]), operatorCidrs: [], logSourceCidrs: [], memberCounts: ONE_OF_EACH, region: "eu-west-1", allowTwoZones: false });
    await assert.rejects(
      // apply() swallows a failed Output; its (internal) promise carries the error the deployment reports.
      (network.zones[0] as unknown as { promise(): Promise<string> }).promise(),
      /instanceTypes: t4g\.medium not offered in eu-west-1a, the zone this stack's subnet was created in/,
    );
  });

  describe("zones for the clusters", () => {
    const CLUSTERS: MemberCounts = { logging: 3, web: 1, kafka: 3, monitoring: 1 };
    const rule = (counts: MemberCounts, allowTwoZones = false) =>
      ({ memberCounts: counts, allowTwoZones, region: "eu-west-1", instanceTypes: ["t4g.small", "t4g.large"] });
    const ONE_ZONE = { locations: ["eu-west-1b", "eu-west-1b"], instanceTypes: ["t4g.small", "t4g.large"] };
    const network = (name: string, offerings: { locations: string[]; instanceTypes: string[] }, counts: MemberCounts, allowTwoZones = false) =>
      new Network(name, { vpcCidr: "10.9.0.0/16", offerings, operatorCidrs: [], logSourceCidrs: [], ...rule(counts, allowTwoZones) });
    // apply() swallows a failed Output; its (internal) promise carries the value or the error the deployment reports.
    const zonesOf = (net: Network) => Promise.all(net.zones.map((zone) => (zone as unknown as { promise(): Promise<string> }).promise()));

    it("need 3 zones: 2 only with allowTwoZones, 1 never; a platform without a cluster needs 1", () => {
      assert.equal(zoneRefusal(["z-a", "z-b", "z-c"], rule(CLUSTERS)), undefined);
      assert.equal(zoneRefusal(["z-a", "z-b"], rule(CLUSTERS, true)), undefined);
      assert.match(zoneRefusal(["z-a", "z-b"], rule(CLUSTERS)) ?? "", /^Only 2 availability zones of eu-west-1 offer every configured instance type \(t4g\.large, t4g\.small\): z-a, z-b\. /);
      assert.equal(zoneRefusal(["z-a"], rule(ONE_OF_EACH)), undefined);
      assert.equal(zoneRefusal(["z-a"], rule({ ...ONE_OF_EACH, kafka: 3 }, true)),
        "Only 1 availability zone of eu-west-1 offers every configured instance type (t4g.large, t4g.small): z-a. A cluster (elasticsearchNodes 1, " +
        "kafkaBrokers 3) survives the loss of a zone only across 3, and is not run in a single zone, even with allowTwoZones: the loss of that " +
        "zone would stop every member. Choose instance types offered in more zones (aws ec2 describe-instance-type-offerings --region eu-west-1 " +
        "--location-type availability-zone --filters Name=instance-type,Values=t4g.large,t4g.small), or run 1 Elasticsearch node and 1 Kafka broker.");
    });

    it("leave a single-member platform in the one zone that offers its types", async () => {
      const net = network("one-zone-single", ONE_ZONE, ONE_OF_EACH);
      assert.deepEqual(await zonesOf(net), ["eu-west-1b"]);
    });

    it("refuse a cluster in one zone, even with allowTwoZones, before the network is registered", () => {
      assert.throws(() => network("one-zone-cluster", ONE_ZONE, CLUSTERS, true), /^Error: Only 1 availability zone of eu-west-1 offers every configured instance type \(t4g\.large, t4g\.small\): eu-west-1b\. /);
    });

    it("hold for the zones the subnets are kept in, not only for those offered now", async () => {
      // The mocks keep every subnet of a kept-zone-* network in eu-west-1a, while a, b and c offer t4g.small and t4g.large.
      const net = network("kept-zone-cluster", await instanceTypeOfferings(["t4g.small", "t4g.large"]), CLUSTERS, true);
      await assert.rejects(zonesOf(net), (error: Error) => {
        assert.equal(error.message,
          "This stack's subnets are in 1 availability zone of eu-west-1 (kept-zone-cluster-public: eu-west-1a, kept-zone-cluster-public-2: " +
          "eu-west-1a, kept-zone-cluster-public-3: eu-west-1a), each kept where it was first created, while eu-west-1a, eu-west-1b, eu-west-1c " +
          "offer every configured instance type (t4g.large, t4g.small). A cluster (elasticsearchNodes 3, kafkaBrokers 3) survives the loss of a " +
          "zone only across 3, and is not run in a single zone, even with allowTwoZones: the loss of that zone would stop every member.");
        return true;
      });
      const kept = [{ name: "public", zone: "z-b" }, { name: "public-2", zone: "z-c" }, { name: "public-3", zone: "z-c" }];
      assert.equal(subnetZonesRefusal(kept, ["z-a", "z-b", "z-c"], rule(CLUSTERS, true)), undefined);
      assert.equal(subnetZonesRefusal(kept, ["z-a", "z-b", "z-c"], rule(CLUSTERS)),
        "This stack's subnets are in 2 availability zones of eu-west-1 (public: z-b, public-2: z-c, public-3: z-c), each kept where it was first " +
        "created, while z-a, z-b, z-c offer every configured instance type (t4g.large, t4g.small). A cluster (elasticsearchNodes 3, kafkaBrokers 3) " +
        "survives the loss of a zone only across 3, so accept 2 zones with `pulumi config set allowTwoZones true` (README, Clusters: what the loss " +
        "of a zone then costs).");
      assert.equal(subnetZonesRefusal(kept.slice(0, 1), ["z-b"], rule(ONE_OF_EACH)), undefined);
    });

    it("name, over 2 zones, what the loss of each costs for every cluster size", () => {
      const costs = (n: number) => zoneLossCosts({ logging: n, web: 1, kafka: n, monitoring: 1 }, (member) => ["z-a", "z-b"][zoneSlot(member, 2)]);
      const esLost = (there: number, n: number) => `Elasticsearch loses its master quorum (${there} of its ${n} voting nodes are there) and takes no writes`;
      const esKept = "Elasticsearch keeps its master quorum and a copy of every shard";
      const esEither = (n: number) => `Elasticsearch keeps its master quorum only if the node it leaves out of its voting configuration (${n - 1} of its ${n} nodes vote) is there, and otherwise takes no writes`;
      const kafkaLost = "Kafka loses its controller quorum (2 of its 3 controllers are there) and takes no writes";
      const kafkaPartly = "Kafka keeps its controller quorum, but the partitions with 2 of their 3 replicas there fall below min.insync.replicas 2 and take no writes";
      const names = (role: string, n: number, first: boolean) => Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === (first ? 0 : 1)).map((i) => (i === 0 ? role : `${role}-${i + 1}`));
      const zone = (n: number, first: boolean) => [...names("logging", n, first), ...names("kafka", n, first)].join(", ");
      assert.deepEqual(costs(3), [
        `Losing z-a (${zone(3, true)}): ${esLost(2, 3)}; ${kafkaLost}.`,
        `Losing z-b (${zone(3, false)}): ${esKept}; Kafka keeps its controller quorum and 2 of 3 replicas of every partition.`,
      ]);
      for (const n of [5, 7, 9]) {
        assert.deepEqual(costs(n), [`Losing z-a (${zone(n, true)}): ${esLost((n + 1) / 2, n)}; ${kafkaLost}.`, `Losing z-b (${zone(n, false)}): ${esKept}; ${kafkaPartly}.`], `${n}`);
      }
      for (const n of [4, 6, 8]) {
        assert.deepEqual(costs(n), [`Losing z-a (${zone(n, true)}): ${esEither(n)}; ${kafkaLost}.`, `Losing z-b (${zone(n, false)}): ${esEither(n)}; ${kafkaPartly}.`], `${n}`);
      }
      // Only the clusters: a single member is lost with its zone in any layout.
      assert.deepEqual(zoneLossCosts({ logging: 3, web: 1, kafka: 1, monitoring: 1 }, (member) => ["z-a", "z-b"][zoneSlot(member, 2)]),
        [`Losing z-a (logging, logging-3): ${esLost(2, 3)}.`, `Losing z-b (logging-2): ${esKept}.`]);
    });
  });

  it("lists the zones that offer every type, in name order", () => {
    const offerings = { locations: ["z-b", "z-a", "z-b", "z-c"], instanceTypes: ["t3.small", "t3.small", "t4g.large", "t4g.large"] };
    assert.deepEqual(zonesOffering(offerings, ["t3.small", "t4g.large"]), ["z-b"]);
    assert.deepEqual(zonesOffering(offerings, ["t3.small"]), ["z-a", "z-b"]);
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
