// Clusters on the Pulumi mocks: the whole program with 3 Elasticsearch nodes and 3 Kafka brokers next to the default
// one of each, on both targets: hosts per role and zone, the security-group matrix, each member's environment, the
// rolling order of the bundles and the scrape targets; and that the default config registers what it did before.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
// The mock monitor's outstanding registrations (internal to the SDK, untyped), as runProgram awaits them.
import * as settings from "@pulumi/pulumi/runtime/settings";
import { EXISTING_INSTANCES, Registered, PROJECT, STACK, TEST_CONFIG, registered, runProgram, settle } from "../setup";
import { REPO_ROOT } from "../../components/platform/repo";
import { parse as parseDotEnv } from "dotenv";
import { lookups } from "../helpers/registered";
import { PLATFORM_SHAPES, onDocker } from "../helpers/shapes";

const NAME = `${PROJECT}-${STACK}`;
// In the mocks' two zones that offer TEST_CONFIG's types, with allowTwoZones.
const CLUSTER_CONFIG = PLATFORM_SHAPES["aws-cluster-3-3"];
const WITHOUT_ALLOW_TWO_ZONES = Object.fromEntries(Object.entries(CLUSTER_CONFIG).filter(([key]) => key !== `${PROJECT}:allowTwoZones`));

/** Runs the program with pulumi.log.warn caught: what the deploy would show as warnings. */
async function runCatchingWarnings(config: Record<string, string>): Promise<Awaited<ReturnType<typeof runProgram>> & { warnings: string[] }> {
  const log = pulumi.log as { warn: (message: string) => Promise<void> };
  const warn = log.warn;
  const warnings: string[] = [];
  log.warn = async (message: string) => void warnings.push(message);
  try {
    return { ...(await runProgram(config)), warnings };
  } finally {
    log.warn = warn;
  }
}

const TWO_ZONE_WARNING =
  "allowTwoZones: the clusters (elasticsearchNodes 3, kafkaBrokers 3) run in 2 availability zones of eu-west-1, not 3, so the loss of one can " +
  "stop a cluster. Losing eu-west-1b (logging, logging-3, kafka, kafka-3): Elasticsearch loses its master quorum (2 of its 3 voting nodes are " +
  "there) and takes no writes; Kafka loses its controller quorum (2 of its 3 controllers are there) and takes no writes. Losing eu-west-1c " +
  "(logging-2, kafka-2): Elasticsearch keeps its master quorum and a copy of every shard; Kafka keeps its controller quorum and 2 of 3 " +
  "replicas of every partition.";

const fixture = (target: string) =>
  fs.readFileSync(path.join(REPO_ROOT, "test/fixtures/platform", `default-resources-${target}.txt`), "utf8").trim().split("\n");

describe("clusters (Pulumi mocks)", function () {
  this.timeout(120_000);

  // The fixtures list what the default config registers. Clusters added nothing to them (they were 3f6f634's lists
  // when the members came in); a change to them is a change to every existing stack, made on purpose (since then: the
  // tunnel replacing the UI rules, the generated passwords, every host's forwarder with its copy step and rules, the data volumes and their snapshots).
  for (const [target, config] of [["aws", TEST_CONFIG], ["docker", onDocker(TEST_CONFIG)]] as const) {
    it(`registers with the default config (${target}) exactly the resources of its fixture, none of a cluster's`, async () => {
      const { resources } = await runProgram(config);
      const names = resources.map((r) => `${r.type} ${r.name}`).sort();
      assert.deepEqual(names, fixture(target));
      assert.deepEqual(names.filter((n) => /-(logging|kafka)-\d|-public-\d|-bundle-(node|gate)$|elasticsearchTransport|kafkaController|-kafka-kafka-from-kafka/.test(n)), []);
    });
  }

  describe("3 Elasticsearch nodes and 3 Kafka brokers on aws", () => {
    let resources: Registered[];
    let outputs: Record<string, unknown>;
    let warnings: string[];
    const { ofType, byName } = lookups(() => resources);
    const idOf = (name: string) => `${name}-id`;
    const envOf = (member: string) => parseDotEnv(JSON.parse(byName(`${NAME}-${member}-bundle-rendered`).inputs.stdin as string)[".env"]);
    const instance = (member: string) => ofType("aws:ec2/instance:Instance").find((r) => r.name === `${NAME}-${member}`)!;

    before(async () => {
      const run = await runCatchingWarnings(CLUSTER_CONFIG);
      resources = run.resources;
      warnings = run.warnings;
      outputs = (await settle(run.outputs)) as Record<string, unknown>;
    });

    it("creates one host per member, the first of each role under the role's name", () => {
      const names = ofType("aws:ec2/instance:Instance").map((r) => r.name.slice(`${NAME}-`.length)).sort();
      assert.deepEqual(names, ["kafka", "kafka-2", "kafka-3", "logging", "logging-2", "logging-3", "monitoring", "web"]);
      assert.deepEqual(Object.keys(outputs.hosts as object).sort(), names);
    });

    it("spreads each cluster round-robin over the zones (up to three) that offer every type, one subnet each", () => {
      const subnets = ofType("aws:ec2/subnet:Subnet");
      assert.deepEqual(subnets.map((s) => [s.name, s.inputs.availabilityZone, s.inputs.cidrBlock]), [
        // The mocks' zone a lacks t4g.medium (the kafka type in TEST_CONFIG).
        [`${NAME}-public`, "eu-west-1b", "10.42.0.0/18"],
        [`${NAME}-public-2`, "eu-west-1c", "10.42.64.0/18"],
      ]);
      const subnetOf = (member: string) => instance(member).inputs.subnetId;
      for (const role of ["logging", "kafka"]) {
        assert.equal(subnetOf(role), idOf(`${NAME}-public`));
        assert.equal(subnetOf(`${role}-2`), idOf(`${NAME}-public-2`));
        assert.equal(subnetOf(`${role}-3`), idOf(`${NAME}-public`));
      }
      assert.equal(subnetOf("web"), idOf(`${NAME}-public`));
      assert.equal(envOf("logging-2").HOST_ZONE, "eu-west-1c");
      assert.equal(envOf("kafka-3").KAFKA_BROKER_RACK, "eu-west-1b");
    });

    it("with only two zones offering every type and allowTwoZones, warns once what the loss of each zone costs", () => {
      assert.deepEqual(warnings, [TWO_ZONE_WARNING]);
    });

    it("opens transport and controller ports only between the members of the cluster", () => {
      const group = (role: string) => idOf(`${NAME}-${role}`);
      const rules = ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
      const on = (port: number) => rules.filter((r) => r.inputs.fromPort === port)
        .map((r) => [r.inputs.securityGroupId, r.inputs.referencedSecurityGroupId ?? r.inputs.cidrIpv4]);
      assert.deepEqual(on(9300), [[group("logging"), group("logging")]]);
      assert.deepEqual(on(9093).filter(([to]) => to === group("kafka")), [[group("kafka"), group("kafka")]]);
      assert.ok(on(9092).some(([to, from]) => to === group("kafka") && from === group("kafka")), "brokers replicate over 9092");
    });

    it("gives each broker its node id, role, the three voters and the replication factor of three", () => {
      const ips = ["kafka", "kafka-2", "kafka-3"].map((m) => envOf(m).HOST_PRIVATE_IP);
      assert.equal(new Set(ips).size, 3);
      const voters = ips.map((ip, i) => `${i + 1}@${ip}:9093`).join(",");
      ["kafka", "kafka-2", "kafka-3"].forEach((member, i) => {
        const env = envOf(member);
        assert.equal(env.KAFKA_NODE_ID, String(i + 1));
        assert.equal(env.KAFKA_PROCESS_ROLES, "broker,controller");
        assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, voters);
        assert.equal(env.KAFKA_REPLICATION_FACTOR, "3");
        assert.equal(env.KAFKA_MIN_INSYNC_REPLICAS, "2");
        assert.equal(env.COMPOSE_PROFILES, i === 0 ? "first-member" : "");
      });
      assert.equal(envOf("web").KAFKA_BOOTSTRAP_SERVERS, ips.map((ip) => `${ip}:9092`).join(","));
    });

    it("gives each Elasticsearch node the others as seeds and the founding nodes by name", () => {
      const ips = ["logging", "logging-2", "logging-3"].map((m) => envOf(m).HOST_PRIVATE_IP);
      assert.equal(new Set(ips).size, 3);
      ["logging", "logging-2", "logging-3"].forEach((member, i) => {
        const env = envOf(member);
        assert.equal(env.ES_NODE_NAME, member);
        assert.deepEqual(env.ES_SEED_HOSTS.split(","), ips.filter((_, j) => j !== i).map((ip) => `${ip}:9300`));
        assert.equal(env.ES_INITIAL_MASTER_NODES, "logging,logging-2,logging-3");
        assert.equal(env.ES_REPLICAS, "1");
        assert.equal(env.ES_SHARDS, "3");
      });
      // Unset, the partitions follow the aggregators (one per logging host).
      assert.equal(envOf("kafka").KAFKA_PARTITIONS, "3");
    });

    it("rolls each cluster one member at a time, then the first member's one-off jobs, then the rest", () => {
      const deps = (name: string) => byName(`${NAME}-${name}`).dependsOn;
      for (const role of ["logging", "kafka"]) {
        assert.ok(!deps(`${role}-bundle-node`).some((d) => d.endsWith("-gate")), `${role}: the first node waits for no gate`);
        assert.ok(deps(`${role}-2-bundle-node`).includes(`${NAME}-${role}-bundle-gate`));
        assert.ok(deps(`${role}-3-bundle-node`).includes(`${NAME}-${role}-2-bundle-gate`));
        assert.ok(deps(`${role}-bundle-up`).includes(`${NAME}-${role}-3-bundle-gate`), `${role}: first member's up after the last gate`);
        for (const other of [`${role}-2`, `${role}-3`]) {
          assert.ok(deps(`${other}-bundle-up`).includes(`${NAME}-${role}-bundle-up`), `${other} after the first member's up`);
          assert.ok(deps(`${other}-bundle-up`).includes(`${NAME}-${role}-3-bundle-gate`));
        }
        assert.match(byName(`${NAME}-${role}-2-bundle-gate`).inputs.create as string, /bash cluster\/gate\.sh$/);
        assert.match(byName(`${NAME}-${role}-2-bundle-node`).inputs.create as string,
          new RegExp(`docker compose up --detach --wait --wait-timeout \\d+ '?${role === "logging" ? "elasticsearch" : "kafka"}'?;`));
      }
      // Elasticsearch's rolling restart around each logging member's node (its node step after the previous member's
      // gate, above): shard allocation limited to primaries in the node step, after the sync and before `compose up`
      // (lifted at once if that fails), and lifted in the gate step before the gate. Kafka's steps have none of it.
      for (const member of ["logging", "logging-2", "logging-3"]) {
        const node = (byName(`${NAME}-${member}-bundle-node`).inputs.create as string).split("\n");
        const sync = node.findIndex((line) => line.startsWith("rsync "));
        const limit = node.indexOf("bash cluster/allocation.sh primaries");
        const up = node.findIndex((line) => /^if ! sudo docker compose up .* '?elasticsearch'?; then$/.test(line));
        assert.ok(sync >= 0 && sync < limit && limit < up, `${member}: sync, limit, then up:\n${node.join("\n")}`);
        assert.deepEqual(node.slice(up).filter((line) => line.includes("allocation")), ["  ES_ALLOCATION_JOIN_TIMEOUT=0 bash cluster/allocation.sh all >&2 || true"],
          `${member}: a failed up lifts the limit`);
        assert.match(byName(`${NAME}-${member}-bundle-gate`).inputs.create as string, /^cd '?\/opt\/[^ ]+'? && bash cluster\/allocation\.sh all && bash cluster\/gate\.sh$/);
      }
      for (const member of ["kafka", "kafka-2", "kafka-3"]) {
        for (const step of ["node", "gate"]) {
          assert.doesNotMatch(byName(`${NAME}-${member}-bundle-${step}`).inputs.create as string, /allocation/, `${member}-bundle-${step}`);
        }
      }
      // The aggregators and the gateway's forwarder start once every broker is up (a single host waits before its copy).
      for (const step of ["logging-bundle-up", "logging-2-bundle-up", "logging-3-bundle-up", "web-bundle-prepare"]) {
        for (const broker of ["kafka", "kafka-2", "kafka-3"]) assert.ok(deps(step).includes(`${NAME}-${broker}-bundle-up`), `${step} after ${broker}`);
      }
      // Single hosts keep a plain bundle.
      assert.ok(!resources.some((r) => r.name === `${NAME}-web-bundle-node` || r.name === `${NAME}-monitoring-bundle-gate`));
    });

    it("a first deploy: creates a member's instance only once the previous member's host passed its gate (nothing to wait for yet)", () => {
      for (const role of ["logging", "kafka"]) {
        assert.ok(!instance(role).dependsOn.some((d) => d.endsWith("-host-change-gate")), `${role}: the first member waits for none`);
        for (const [member, previous] of [[`${role}-2`, role], [`${role}-3`, `${role}-2`]]) {
          assert.ok(instance(member).dependsOn.includes(`${NAME}-${previous}-host-change-gate`), `${member} after ${previous}'s gate`);
          const gate = byName(`${NAME}-${previous}-host-change-gate`);
          // On the previous member's host, after its readiness step, and again whenever that host changes.
          assert.deepEqual(gate.inputs.triggers, [`${idOf(`${NAME}-${previous}`)} ${instance(previous).inputs.instanceType}`]);
          assert.ok(gate.dependsOn.includes(`${NAME}-${previous}-ready`));
          const script = gate.inputs.create as string;
          assert.match(script, new RegExp(`cd '/opt/aws-log-platform/${role}' && bash cluster/gate\\.sh$`));
          assert.match(script, /no bundle on this host yet, nothing to wait for/, "a first deploy or a replaced host has nothing to wait for");
          // Nothing of the bundles: the bundles depend on every member's address, so they cannot come before a host.
          assert.ok(!gate.dependsOn.some((d) => d.includes("-bundle")), `${previous}: ${gate.dependsOn.join(", ")}`);
        }
      }
      for (const single of ["web", "monitoring"]) assert.ok(!resources.some((r) => r.name === `${NAME}-${single}-host-change-gate`));
    });

    it("scrapes node_exporter and the forwarder on every member, the aggregator on every logging member, each exporter once", () => {
      const files = JSON.parse(byName(`${NAME}-monitoring-bundle-rendered`).inputs.stdin as string) as Record<string, string>;
      const members = (job: string) => (JSON.parse(files[`prometheus/targets/${job}.json`]) as { labels: { member: string } }[]).map((g) => g.labels.member);
      assert.deepEqual(members("node"), ["logging", "logging-2", "logging-3", "web", "kafka", "kafka-2", "kafka-3", "monitoring"]);
      assert.deepEqual(members("fluent-bit-forwarder"), members("node"));
      assert.deepEqual(members("fluent-bit-aggregator"), ["logging", "logging-2", "logging-3"]);
      assert.deepEqual(members("kafka-exporter"), ["kafka"]);
      assert.deepEqual(members("elasticsearch-exporter"), ["logging"]);
    });
  });

  describe("3 + 3 on aws, deployed again: every instance exists", () => {
    let resources: Registered[];
    const { ofType, byName } = lookups(() => resources);
    const instance = (member: string) => ofType("aws:ec2/instance:Instance").find((r) => r.name === `${NAME}-${member}`)!;
    // In the member's subnet (round-robin over the two zones of this config): 10.42.0.0/18, 10.42.64.0/18.
    const address = (member: string) => {
      const [role, position] = member.split("-");
      const index = Number(position ?? 1) - 1;
      return `10.42.${(index % 2) * 64}.${10 + 10 * ["logging", "web", "kafka", "monitoring"].indexOf(role) + index}`;
    };
    const members = ["logging", "logging-2", "logging-3", "web", "kafka", "kafka-2", "kafka-3", "monitoring"];

    before(async () => {
      for (const member of members) EXISTING_INSTANCES[`${NAME}-${member}`] = address(member);
      try {
        ({ resources } = await runProgram(CLUSTER_CONFIG));
      } finally {
        for (const member of members) delete EXISTING_INSTANCES[`${NAME}-${member}`];
      }
    });

    it("gives each instance the address it has, so a replacement keeps it: no diff for the instance that exists", () => {
      for (const member of members) assert.equal(instance(member).inputs.privateIp, address(member), member);
    });

    it("renders the kept addresses, so no bundle waits for another member's instance", () => {
      const env = parseDotEnv(JSON.parse(byName(`${NAME}-logging-bundle-rendered`).inputs.stdin as string)[".env"]);
      assert.deepEqual(env.ES_SEED_HOSTS.split(","), [`${address("logging-2")}:9300`, `${address("logging-3")}:9300`]);
      for (const member of ["logging", "logging-2", "kafka", "kafka-2"]) {
        const rendered = byName(`${NAME}-${member}-bundle-rendered`);
        const others = members.filter((m) => m.split("-")[0] === member.split("-")[0] && m !== member);
        for (const other of others) assert.ok(!rendered.dependsOn.includes(`${NAME}-${other}`), `${member}'s files wait for ${other}'s instance`);
      }
    });

    it("changes a member's instance (resize or replacement) only after the previous member's bundle gate: node restarted, allocation lifted, cluster healthy", () => {
      for (const role of ["logging", "kafka"]) {
        assert.ok(!instance(role).dependsOn.some((d) => d.endsWith("-gate")), `${role}: the first member waits for none`);
        assert.ok(instance(`${role}-2`).dependsOn.includes(`${NAME}-${role}-bundle-gate`), instance(`${role}-2`).dependsOn.join(", "));
        assert.ok(instance(`${role}-3`).dependsOn.includes(`${NAME}-${role}-2-bundle-gate`));
      }
      assert.ok(!resources.some((r) => r.name.endsWith("-host-change-gate")), "no gate on the hosts' own bundles");
    });
  });

  it("uses three zones where three offer every type, without allowTwoZones and without a warning", async () => {
    const { resources, warnings } = await runCatchingWarnings({ ...WITHOUT_ALLOW_TWO_ZONES, [`${PROJECT}:instanceTypes`]: JSON.stringify({ kafka: "t4g.small" }) });
    const subnets = resources.filter((r) => r.type === "aws:ec2/subnet:Subnet");
    assert.deepEqual(subnets.map((s) => s.inputs.availabilityZone), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    const instances = resources.filter((r) => r.type === "aws:ec2/instance:Instance" && /-logging(-\d)?$/.test(r.name));
    assert.deepEqual(instances.map((r) => r.inputs.availabilityZone), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    assert.deepEqual(warnings, []);
  });

  it("refuses a cluster where only two zones offer every type, naming zones, types and region, before the network exists", async () => {
    const start = registered.length;
    await assert.rejects(runProgram(WITHOUT_ALLOW_TWO_ZONES), (error: Error) => {
      assert.equal(error.message,
        "Only 2 availability zones of eu-west-1 offer every configured instance type (m7g.large, t3.small, t4g.medium, t4g.small): " +
        "eu-west-1b, eu-west-1c. A cluster (elasticsearchNodes 3, kafkaBrokers 3) survives the loss of a zone only across 3: in 2, the zone " +
        "that holds most of its voters takes its quorum with it. Choose instance types offered in a third zone (aws ec2 " +
        "describe-instance-type-offerings --region eu-west-1 --location-type availability-zone --filters " +
        "Name=instance-type,Values=m7g.large,t3.small,t4g.medium,t4g.small), or accept 2 zones with `pulumi config set allowTwoZones true` " +
        "(README, Clusters: what the loss of a zone then costs).");
      return true;
    });
    // What the program registered before it stopped (the credentials) lands before the next run counts its own.
    await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    const aws = registered.slice(start).filter((r) => r.type.startsWith("aws:") || r.type === "logplatform:index:Network");
    assert.deepEqual(aws.map((r) => r.name), [], "nothing of the network or the hosts is registered");
  });

  it("refuses it for one cluster too (1 Elasticsearch node, 3 Kafka brokers)", async () => {
    await assert.rejects(runProgram({ ...WITHOUT_ALLOW_TWO_ZONES, [`${PROJECT}:elasticsearchNodes`]: "1" }),
      /^Error: Only 2 availability zones of eu-west-1 .*: eu-west-1b, eu-west-1c\. A cluster \(elasticsearchNodes 1, kafkaBrokers 3\)/);
    await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  });

  it("leaves a single-member platform alone in two zones, without allowTwoZones or a warning", async () => {
    const { resources, warnings } = await runCatchingWarnings(TEST_CONFIG);
    assert.deepEqual(resources.filter((r) => r.type === "aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZone), ["eu-west-1b"]);
    assert.deepEqual(warnings, []);
  });

  it("on docker, gives every member its own address and loopback SSH port, zones as stand-in names", async () => {
    const { resources, outputs } = await runProgram(onDocker(CLUSTER_CONFIG));
    const containers = resources.filter((r) => r.type === "docker:index/container:Container");
    const addresses = containers.map((c) => (c.inputs.networksAdvanced as { ipv4Address: string }[])[0].ipv4Address);
    assert.equal(containers.length, 8);
    assert.equal(new Set(addresses).size, 8);
    const hosts = (await settle(outputs.hosts)) as Record<string, { sshPort: number }>;
    const sshPorts = Object.values(hosts).map((h) => h.sshPort);
    assert.equal(new Set(sshPorts).size, 8);
    assert.deepEqual(Object.keys(hosts).filter((m) => m.startsWith("logging")).map((m) => hosts[m].sshPort), [2201, 2205, 2209]);
    const env = parseDotEnv(JSON.parse(resources.find((r) => r.name === `${NAME}-logging-2-bundle-rendered`)!.inputs.stdin as string)[".env"]);
    assert.equal(env.HOST_ZONE, "local-b");
    // The addresses are fixed: a host container replaced (a new host image) waits for the previous member's bundle gate.
    const container = (member: string) => containers.find((c) => c.name.endsWith(`-${member}`))!;
    assert.ok(container("logging-2").dependsOn.includes(`${NAME}-logging-bundle-gate`), container("logging-2").dependsOn.join(", "));
    assert.ok(container("kafka-3").dependsOn.includes(`${NAME}-kafka-2-bundle-gate`));
    assert.ok(!resources.some((r) => r.name.endsWith("-host-change-gate")));
  });
});
