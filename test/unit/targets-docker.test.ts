// The docker target on the Pulumi mocks: the whole program with `target: docker`, next to the aws run of
// targets-aws.test.ts (the same TEST_CONFIG but for the target and the AWS-only keys).
import { strict as assert } from "assert";
import * as ipaddr from "ipaddr.js";
import { Registered, PROJECT, STACK, STAND_IN_MACHINE, TEST_CONFIG, registered, runProgram, settle } from "../setup";
import { DEFAULT_VPC_CIDR } from "../../components/config/keys";
import { standInLocalMachine } from "../../components/targets/docker/preflight";
import { ROLES, Role } from "../../components/platform/roles";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { bundleImages } from "../../components/bundles/images";
import { DEFAULT_DOCKER_HOST } from "../../components/targets/docker/endpoint";
import { imageResourceName } from "../../components/targets/docker/images";
import { lookups } from "../helpers/registered";
import { onDocker } from "../helpers/shapes";

const NAME = `${PROJECT}-${STACK}`;
const LOCAL_CONFIG: Record<string, string> = {
  ...onDocker(TEST_CONFIG),
  [`${PROJECT}:localGatewayPort`]: "18080",
  [`${PROJECT}:localPorts`]: JSON.stringify({ grafana: 13000 }),
  [`${PROJECT}:localMemoryMiB`]: JSON.stringify({ logging: 6144 }),
};

// The machine's check (preflight.ts) meets test/setup.ts's stand-in here: no Docker engine runs on the mocks.
describe("docker target (Pulumi mocks, the machine's check stood in)", function () {
  this.timeout(60_000);
  let resources: Registered[];
  let outputs: Record<string, unknown>;
  const { ofType, byName } = lookups(() => resources);
  const containerOf = (role: Role) => {
    const found = ofType("docker:index/container:Container").find((r) => r.name === `${NAME}-${role}`);
    assert.ok(found, `no container for ${role}`);
    return found;
  };

  before(async () => {
    const run = await runProgram(LOCAL_CONFIG);
    resources = run.resources;
    outputs = (await settle(run.outputs)) as Record<string, unknown>;
  });

  it("registers no AWS resource at all, and the whole platform above the hosts", () => {
    assert.deepEqual(resources.filter((r) => r.type.startsWith("aws:")).map((r) => r.name), []);
    assert.equal(ofType("logplatform:index:Bundle").length, 4);
    assert.equal(ofType("docker:index/container:Container").length, 4);
  });

  it("puts the hosts on one network whose subnet is the VPC range (by default the docker target's), each at a static address inside it", () => {
    const [network] = ofType("docker:index/network:Network");
    assert.deepEqual((network.inputs.ipamConfigs as { subnet: string }[]).map((c) => c.subnet), [DEFAULT_VPC_CIDR.docker]);
    assert.equal(network.deleteBeforeReplace, true, "a fixed name: a new range replaces it only after the old one is gone");
    const range = ipaddr.IPv4.parseCIDR(DEFAULT_VPC_CIDR.docker);
    const addresses = ROLES.map((role) => {
      const [attachment] = containerOf(role).inputs.networksAdvanced as { name: string; ipv4Address: string }[];
      assert.equal(attachment.name, network.inputs.name, role);
      assert.ok(ipaddr.IPv4.parse(attachment.ipv4Address).match(range), `${role}: ${attachment.ipv4Address}`);
      return attachment.ipv4Address;
    });
    assert.equal(new Set(addresses).size, 4);
    // The other hosts' .env carry exactly these addresses.
    const env = JSON.parse(byName(`${NAME}-web-bundle-rendered`).inputs.stdin as string)[".env"] as string;
    assert.match(env, new RegExp(`^KAFKA_BOOTSTRAP_SERVERS='${addresses[ROLES.indexOf("kafka")].replace(/\./g, "\\.")}:9092'$`, "m"));
  });

  it("publishes on 127.0.0.1 only: each host's SSH, the gateway and the ingest endpoint on their ports, and the UIs at localPorts, where the AWS tunnel puts them", () => {
    const published = ROLES.flatMap((role) =>
      (containerOf(role).inputs.ports as { internal: number; external: number; ip: string }[]).map((p) => {
        assert.equal(p.ip, "127.0.0.1", `${role} publishes ${p.external} beyond loopback`);
        return `${role} ${p.external}->${p.internal}`;
      }));
    // Written out: the UIs on the first member of their role, at their localPorts (Grafana moved), as the tunnel on AWS.
    const expected = [
      ...ROLES.map((role, i) => `${role} ${2201 + i}->22`),
      "web 18080->80",
      // The ingest endpoint: on loopback whatever logSourceCidrs says, which only the aws target reads.
      "web 24224->24224", "web 4318->4318",
      "logging 5601->5601", "logging 9200->9200", "monitoring 13000->3000", "monitoring 9090->9090", "monitoring 9093->9093",
    ];
    assert.deepEqual(published.sort(), expected.sort());
  });

  it("gives every Docker resource one provider, set to the engine the docker CLI uses (the stand-in's: the default socket)", () => {
    const [provider] = ofType("pulumi:providers:docker");
    assert.equal(provider.inputs.host, "unix:///var/run/docker.sock");
    const dockerResources = resources.filter((r) => r.type.startsWith("docker:"));
    assert.ok(dockerResources.length >= 11, dockerResources.map((r) => r.name).join(", "));
    for (const resource of dockerResources) {
      assert.match(resource.provider, new RegExp(`pulumi:providers:docker::${provider.name}::`), `${resource.type} ${resource.name}: the image build and the containers on one engine`);
    }
  });

  it("checks the machine once, before registering anything, and only with target docker (a recording stand-in)", async () => {
    const checkedAt: number[] = [];
    standInLocalMachine({ ...STAND_IN_MACHINE, ping: async () => void checkedAt.push(registered.length) });
    try {
      const before = registered.length;
      await runProgram(LOCAL_CONFIG);
      assert.deepEqual(checkedAt, [before], "nothing registered before the check");
      await runProgram(TEST_CONFIG);
      assert.equal(checkedAt.length, 1, "target aws checks no local engine");
    } finally {
      standInLocalMachine(STAND_IN_MACHINE);
    }
  });

  it("runs privileged hosts whose inner engine keeps its data in a named volume, within their memory limits", () => {
    for (const role of ROLES) {
      const container = containerOf(role);
      assert.equal(container.inputs.privileged, true, role);
      const [mount] = container.inputs.volumes as { volumeName: string; containerPath: string }[];
      assert.equal(mount.containerPath, "/var/lib/docker", role);
      assert.equal(mount.volumeName, byName(`${NAME}-${role}-engine`).inputs.name, role);
      assert.equal(container.inputs.memory, { logging: 6144, web: 1024, kafka: 1536, monitoring: 1024 }[role], role);
      assert.ok((container.inputs.envs as string[]).includes(`HOST_ROLE=${role}`), role);
    }
    const env = JSON.parse(byName(`${NAME}-logging-bundle-rendered`).inputs.stdin as string)[".env"] as string;
    assert.match(env, /^ES_HEAP_SIZE='2g'$/m, "6 GiB: (6 - 1.5) / 2 rounded down");
  });

  it("builds the host image from platform-host/ under a content tag, and removes it on destroy", () => {
    const [image] = ofType("docker:index/image:Image");
    assert.match((image.inputs.build as { context: string }).context, /\/platform-host$/);
    assert.match(image.inputs.imageName as string, new RegExp(`^${NAME}-local-host:[0-9a-f]{12}$`));
    assert.equal(image.inputs.skipPush, true);
    const reference = ofType("docker:index/remoteImage:RemoteImage").find((r) => r.inputs.name === image.inputs.imageName);
    assert.ok(reference, "a RemoteImage of the built host image");
    assert.equal(reference.inputs.keepLocally, false);
    for (const role of ROLES) assert.match(containerOf(role).inputs.image as string, /^sha256:/, role);
  });

  it("pulls every image of the bundles once on the user's engine, keeps it on destroy, and loads each host's own into its engine before its bundle", () => {
    const provider = containerOf("logging").provider;
    assert.ok(provider, "the hosts go to the checked engine's provider");
    const pulled = ofType("docker:index/remoteImage:RemoteImage").filter((r) => r.name.startsWith(`${NAME}-local-images-`));
    const wanted = [...new Set(ROLES.flatMap(bundleImages))].sort();
    assert.deepEqual(pulled.map((r) => r.inputs.name).sort(), wanted);
    for (const image of pulled) {
      assert.equal(image.inputs.keepLocally, true, `${image.inputs.name}: kept on the user's engine across destroy and up`);
      assert.equal(image.provider, provider, `${image.inputs.name}: pulled by the engine the hosts run on`);
    }
    for (const role of ROLES) {
      const load = byName(`${NAME}-${role}-images`);
      const script = load.inputs.create as string;
      assert.match(script, new RegExp(`^HOST_CONTAINER='${NAME}-${role}'$`, "m"));
      assert.match(script, new RegExp(`^IMAGES='${bundleImages(role).join(" ").replace(/\./g, "\\.")}'$`, "m"));
      assert.deepEqual(load.inputs.environment, { DOCKER_HOST: DEFAULT_DOCKER_HOST }, "the docker CLI on the provider's engine");
      assert.ok(load.dependsOn.includes(`${NAME}-${role}-ready`), `${role}: loads once its engine answers`);
      for (const image of bundleImages(role)) assert.ok(load.dependsOn.includes(`${NAME}-local-images-${imageResourceName(image)}`), `${role}: after ${image} is pulled`);
      assert.ok(byName(`${NAME}-${role}-bundle-prepare`).dependsOn.includes(`${NAME}-${role}-images`), `${role}: the bundle starts after its images are in`);
    }
  });

  it("deploys the same bundles with the same steps as on AWS, over each host's loopback SSH port", () => {
    for (const [i, role] of ROLES.entries()) {
      const steps = resources.filter((r) => r.name.startsWith(`${NAME}-${role}-bundle-`));
      const names = steps.map((s) => s.name.slice(`${NAME}-${role}-bundle-`.length)).sort();
      assert.deepEqual(names, [...BUNDLE_SOURCES[role].map((f) => `copy-${f === `hosts/${role}` ? role : f.replace(/\//g, "-")}`), "prepare", "rendered", "up"].sort());
      for (const step of steps) {
        const connection = step.inputs.connection as { host: string; port: number; user: string };
        assert.deepEqual([connection.host, connection.port, connection.user], ["127.0.0.1", 2201 + i, "ubuntu"], step.name);
        assert.ok(step.secretInputs.some((p) => p.startsWith("connection")), `${step.name}: key not secret`);
        assert.equal((step.inputs.triggers as string[])[1], `${NAME}-${role}-id`, `${step.name}: not keyed on the host container`);
      }
      assert.match(byName(`${NAME}-${role}-ready`).inputs.create as string, /sudo docker info/);
    }
    assert.match(byName(`${NAME}-pipeline-check-logging`).inputs.create as string, /bash checks\/pipeline\.sh$/);
  });

  it("exports local URLs, so `npm run verify` works unchanged", () => {
    assert.equal(outputs.gatewayUrl, "http://127.0.0.1:18080");
    assert.equal(outputs.kibanaUrl, "http://127.0.0.1:5601");
    assert.equal(outputs.grafanaUrl, "http://127.0.0.1:13000");
    assert.equal(outputs.prometheusUrl, "http://127.0.0.1:9090");
    assert.equal(outputs.elasticsearchUrl, "https://127.0.0.1:9200");
    assert.equal(outputs.alertmanagerUrl, "http://127.0.0.1:9093");
    assert.deepEqual(outputs.tunnels, [], "the UIs are on loopback already: nothing to tunnel");
    const hosts = outputs.hosts as Record<Role, { publicIp: string; sshPort: number }>;
    assert.deepEqual(ROLES.map((role) => `${hosts[role].publicIp}:${hosts[role].sshPort}`), ["127.0.0.1:2201", "127.0.0.1:2202", "127.0.0.1:2203", "127.0.0.1:2204"]);
    const ingest = outputs.ingest as Record<string, unknown>;
    assert.deepEqual([ingest.address, ingest.forwardPort, ingest.otlpPort, ingest.localForwardPort, ingest.allowedCidrs], ["127.0.0.1", 24224, 4318, 24224, []]);
  });
});
