import { strict as assert } from "assert";
import * as ipaddr from "ipaddr.js";
import { ConfigSource } from "../../components/config/source";
import { elasticsearchHeapGiB, instanceMemoryGiB } from "../../components/config/sizing";
import { parseConfig } from "../../components/config/parse";
import { resolveOperatorCidrs } from "../../components/config/load";
import { DEFAULT_INSTANCE_TYPES, DEFAULT_ROOT_VOLUME_GIB, DEFAULT_GRAFANA_COM_DASHBOARDS, DEFAULT_LOCAL_MEMORY_MIB, DEFAULT_VPC_CIDR } from "../../components/config/keys";
import { DEFAULT_LOCAL_PORTS } from "../../components/platform/loopback-ports";

const NS = "aws-log-platform";

function source(values: Record<string, unknown>, hasSshPrivateKey = false): ConfigSource {
  const raw: Record<string, string> = { "aws:region": "eu-west-1" };
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) raw[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  for (const [key, value] of Object.entries(values)) if (value === undefined) delete raw[key];
  return { get: (key) => raw[key], hasSshPrivateKey, stackName: "dev", namespace: NS };
}

function configError(values: Record<string, unknown>, hasSshPrivateKey = false): string {
  try {
    parseConfig(source(values, hasSshPrivateKey));
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail(`expected ${JSON.stringify(values)} to be rejected`);
}

describe("config", () => {
  it("applies the documented defaults when nothing is set", () => {
    const config = parseConfig(source({}));
    assert.equal(config.environment, "dev");
    assert.deepEqual(config.instanceTypes, DEFAULT_INSTANCE_TYPES);
    assert.deepEqual(config.architectures, { logging: "arm64", web: "arm64", kafka: "arm64", monitoring: "arm64" });
    assert.deepEqual(config.rootVolumeGiB, DEFAULT_ROOT_VOLUME_GIB);
    assert.deepEqual(config.operatorCidrs, []);
    assert.deepEqual(config.logSourceCidrs, [], "the ingest endpoint is closed until log sources are configured");
    assert.deepEqual(config.logSources, ["default"]);
    assert.deepEqual([config.localIngestForwardPort, config.localIngestOtlpPort], [24224, 4318]);
    assert.equal(config.vpcCidr, "10.42.0.0/16");
    assert.deepEqual(config.localPorts, { kibana: 5601, elasticsearch: 9200, grafana: 3000, prometheus: 9090, alertmanager: 9093 });
    assert.equal(config.elasticsearchRetentionDays, 3);
    assert.equal(config.kafkaRetentionHours, 48);
    assert.equal(config.elasticsearchHeapGiB, 3, "t4g.large has 8 GiB: (8 - 1.5) / 2 rounded down");
    assert.deepEqual(config.grafanaComDashboards, DEFAULT_GRAFANA_COM_DASHBOARDS);
    assert.equal(config.sshPublicKey, undefined);
  });

  it("takes valid values, a subset of roles, and x86 families", () => {
    const config = parseConfig(source({
      environment: "staging-2",
      operatorCidrs: ["203.0.113.0/24", "198.51.100.7/32"],
      logSourceCidrs: ["192.0.2.0/24"],
      logSources: ["payments", "search-api"],
      instanceTypes: { logging: "m7i.xlarge", web: "t3.small" },
      rootVolumeGiB: { logging: 200 },
      kafkaPartitions: "12",
      sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB me@laptop",
    }, true));
    assert.equal(config.environment, "staging-2");
    assert.deepEqual(config.operatorCidrs, ["203.0.113.0/24", "198.51.100.7/32"]);
    assert.deepEqual(config.logSourceCidrs, ["192.0.2.0/24"]);
    assert.deepEqual(config.logSources, ["payments", "search-api"]);
    assert.equal(config.instanceTypes.logging, "m7i.xlarge");
    assert.equal(config.architectures.logging, "x86_64");
    assert.equal(config.architectures.kafka, "arm64");
    assert.equal(config.rootVolumeGiB.logging, 200);
    assert.equal(config.rootVolumeGiB.web, DEFAULT_ROOT_VOLUME_GIB.web);
    assert.equal(config.kafkaPartitions, 12);
    assert.equal(config.elasticsearchHeapGiB, 7, "m7i.xlarge has 16 GiB");
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ["a missing region", { "aws:region": undefined }, 'aws:region = (not set): expected an AWS region'],
    ["a malformed CIDR", { operatorCidrs: ["10.0.0.300/32"] }, `${NS}:operatorCidrs[0] = "10.0.0.300/32": expected an IPv4 CIDR`],
    ["a CIDR with host bits", { operatorCidrs: ["203.0.113.5/24"] }, `${NS}:operatorCidrs[0] = "203.0.113.5/24": expected its network address, 203.0.113.0/24`],
    ["the whole internet as operators", { operatorCidrs: ["0.0.0.0/0"] }, `${NS}:operatorCidrs[0] = "0.0.0.0/0": expected a range narrower than /0`],
    ["operator CIDRs that are not a list", { operatorCidrs: "203.0.113.0/24" }, `${NS}:operatorCidrs = "203.0.113.0/24": expected a list of IPv4 CIDRs`],
    ["a malformed log source CIDR", { logSourceCidrs: ["192.0.2.0/33"] }, `${NS}:logSourceCidrs[0] = "192.0.2.0/33": expected an IPv4 CIDR such as 203.0.113.7/32`],
    ["the whole internet as log sources", { logSourceCidrs: ["10.0.0.0/8", "0.0.0.0/0"] }, `${NS}:logSourceCidrs[1] = "0.0.0.0/0": expected a range narrower than /0 (the whole internet would reach the ingest endpoint)`],
    ["a log source CIDR with host bits", { logSourceCidrs: ["192.0.2.9/24"] }, `${NS}:logSourceCidrs[0] = "192.0.2.9/24": expected its network address, 192.0.2.0/24`],
    ["log source CIDRs that are not a list", { logSourceCidrs: "192.0.2.0/24" }, `${NS}:logSourceCidrs = "192.0.2.0/24": expected a list of IPv4 CIDRs`],
    ["a log source name with a space", { logSources: ["my app"] }, `${NS}:logSources[0] = "my app": expected 1 to 32 lowercase letters, digits or dashes, starting with a letter`],
    ["the stack's own log source", { logSources: ["platform"] }, `${NS}:logSources[0] = "platform": expected a name other than platform`],
    ["a log source named twice", { logSources: ["payments", "payments"] }, `${NS}:logSources[1] = "payments": expected a name not already in the list`],
    ["a tunnel end the ingest forward port also wants", { localIngestForwardPort: "9200" }, `${NS}:localIngestForwardPort = 9200: expected a port that no other published service takes (Elasticsearch (logging host) takes 9200, localPorts.elasticsearch)`],
    ["an unknown instance family", { instanceTypes: { web: "x9z.large" } }, `${NS}:instanceTypes.web = "x9z.large": expected an instance type of a known family`],
    ["an unknown role", { instanceTypes: { db: "t4g.small" } }, `${NS}:instanceTypes.db = "t4g.small": expected one of the roles logging, web, kafka, monitoring`],
    ["a logging host too small", { instanceTypes: { logging: "t4g.small" } }, `${NS}:instanceTypes.logging = "t4g.small": expected at least 4 GiB of memory`],
    ["a retention of zero days", { elasticsearchRetentionDays: "0" }, `${NS}:elasticsearchRetentionDays = "0": expected an integer from 1 to 365`],
    ["a retention that is not a number", { elasticsearchRetentionDays: "three" }, `${NS}:elasticsearchRetentionDays = "three": expected an integer from 1 to 365`],
    ["a Kafka buffer shorter than a day", { kafkaRetentionHours: "12" }, `${NS}:kafkaRetentionHours = "12": expected an integer from 24 to 720`],
    ["zero partitions", { kafkaPartitions: "0" }, `${NS}:kafkaPartitions = "0": expected an integer from 1 to 64`],
    ["a fractional rate", { loadgenRequestsPerSecond: "2.5" }, `${NS}:loadgenRequestsPerSecond = "2.5": expected an integer from 1 to 200`],
    ["a tiny root volume", { rootVolumeGiB: { kafka: 4 } }, `${NS}:rootVolumeGiB.kafka = 4: expected an integer from 8 to 2048`],
    ["a public VPC range", { vpcCidr: "8.8.0.0/16" }, `${NS}:vpcCidr = "8.8.0.0/16": expected a private IPv4 CIDR from /16 to /24`],
    ["an uppercase environment", { environment: "Prod" }, `${NS}:environment = "Prod": expected 1 to 20 lowercase letters`],
    ["a malformed dashboard list", { grafanaComDashboards: [{ id: "1860" }] }, `${NS}:grafanaComDashboards = [{"id":"1860"}]: expected a list of {"id": <integer>, "revision": <integer>}`],
    ["JSON that does not parse", { instanceTypes: "{logging:" }, `${NS}:instanceTypes = "{logging:": expected an object keyed by role`],
    ["a public key without its private key", { sshPublicKey: "ssh-ed25519 AAAAC3Nz me" }, `${NS}:sshPrivateKey = (not set): expected sshPublicKey and the secret sshPrivateKey set together`],
    ["a malformed public key", { sshPublicKey: "not a key" }, `${NS}:sshPublicKey = "not a key": expected an OpenSSH public key line`],
    ["an unknown target", { target: "gcp" }, `${NS}:target = "gcp": expected one of aws, docker`],
    ["a local logging host too small", { target: "docker", localMemoryMiB: { logging: 2048 } }, `${NS}:localMemoryMiB.logging = 2048: expected at least 4096`],
    ["a local memory limit that is not a whole MiB count", { target: "docker", localMemoryMiB: { web: "1g" } }, `${NS}:localMemoryMiB.web = "1g": expected an integer from 256 to 65536`],
    ["a privileged gateway port", { target: "docker", localGatewayPort: "80" }, `${NS}:localGatewayPort = "80": expected an integer from 1024 to 65535`],
    ["a gateway port an SSH port takes", { target: "docker", localGatewayPort: "2203" }, `${NS}:localGatewayPort = 2203: expected a port that no other published service takes (SSH of the kafka host takes 2203, from localSshBasePort 2201)`],
    ["a gateway port Kibana takes", { target: "docker", localGatewayPort: "5601" }, `${NS}:localGatewayPort = 5601: expected a port that no other published service takes (Kibana (logging host) takes 5601, localPorts.kibana)`],
    ["a cluster of two Elasticsearch nodes", { elasticsearchNodes: "2" }, `${NS}:elasticsearchNodes = "2": expected 1, or 3 to 9: a cluster of 2 loses its quorum with either member`],
    ["a cluster of two Kafka brokers", { kafkaBrokers: "2" }, `${NS}:kafkaBrokers = "2": expected 1, or 3 to 9`],
    ["ten Kafka brokers", { kafkaBrokers: "10" }, `${NS}:kafkaBrokers = "10": expected an integer from 1 to 9`],
    ["fewer partitions than aggregators", { elasticsearchNodes: "5", kafkaPartitions: "3" }, `${NS}:kafkaPartitions = "3": expected at least elasticsearchNodes (5): an aggregator without a partition reads nothing`],
    ["zero shards", { elasticsearchShards: "0" }, `${NS}:elasticsearchShards = "0": expected an integer from 1 to 32`],
    ["allowTwoZones that is not a boolean", { elasticsearchNodes: "3", allowTwoZones: "yes" }, `${NS}:allowTwoZones = "yes": expected true or false`],
    ["allowTwoZones that is not a boolean on docker either", { target: "docker", allowTwoZones: "1" }, `${NS}:allowTwoZones = "1": expected true or false`],
    ["a gateway port a further member's SSH takes", { target: "docker", elasticsearchNodes: "3", localGatewayPort: "2209" }, `${NS}:localGatewayPort = 2209: expected a port that no other published service takes (SSH of the logging-3 host takes 2209, from localSshBasePort 2201)`],
    ["local UI ports that are not an object", { localPorts: [5601] }, `${NS}:localPorts = [5601]: expected an object of ports by UI (kibana, elasticsearch, grafana, prometheus, alertmanager)`],
    ["a local port for an unknown UI", { localPorts: { kibanna: 15601 } }, `${NS}:localPorts.kibanna = 15601: expected one of the UIs kibana, elasticsearch, grafana, prometheus, alertmanager`],
    ["a local UI port that is not an integer", { localPorts: { grafana: "3k" } }, `${NS}:localPorts.grafana = "3k": expected an integer from 1024 to 65535`],
    ["a fractional local UI port", { localPorts: { grafana: 3000.5 } }, `${NS}:localPorts.grafana = 3000.5: expected an integer from 1024 to 65535`],
    ["a privileged local UI port", { target: "docker", localPorts: { prometheus: 80 } }, `${NS}:localPorts.prometheus = 80: expected an integer from 1024 to 65535`],
    ["a local UI port beyond 65535", { localPorts: { alertmanager: 70000 } }, `${NS}:localPorts.alertmanager = 70000: expected an integer from 1024 to 65535`],
    ["a local UI port another UI keeps by default", { localPorts: { grafana: 5601 } }, `${NS}:localPorts.grafana = 5601: expected a port that no other published service takes (Kibana (logging host) takes 5601, localPorts.kibana)`],
    ["two UIs set to one local port", { target: "docker", localPorts: { kibana: 4000, grafana: 4000 } }, `${NS}:localPorts.grafana = 4000: expected a port that no other published service takes (Kibana (logging host) takes 4000, localPorts.kibana)`],
    ["a local UI port an SSH port takes", { target: "docker", localPorts: { kibana: 2202 } }, `${NS}:localPorts.kibana = 2202: expected a port that no other published service takes (SSH of the web host takes 2202, from localSshBasePort 2201)`],
    ["SSH ports that run into a UI's", { target: "docker", localSshBasePort: "2999" }, `${NS}:localSshBasePort = 2999: expected a port that no other published service takes (Grafana (monitoring host) takes 3000, localPorts.grafana)`],
    ["a docker network range that is public", { target: "docker", vpcCidr: "8.8.0.0/24" }, `${NS}:vpcCidr = "8.8.0.0/24": expected a private IPv4 CIDR from /16 to /24 given by its network address, e.g. 10.213.0.0/24`],
  ];
  for (const [what, values, message] of cases) {
    it(`rejects ${what}, naming the key, the value and what is expected`, () => {
      assert.ok(configError(values).includes(message), `message was:\n${configError(values)}`);
    });
  }

  describe("target docker", () => {
    const local = (values: Record<string, unknown> = {}) => parseConfig(source({ "aws:region": undefined, target: "docker", ...values }));

    it("needs no AWS setting, and sizes the Elasticsearch heap from the logging container's memory", () => {
      const config = local();
      assert.equal(config.target, "docker");
      assert.equal(config.region, "");
      assert.deepEqual(config.localMemoryMiB, DEFAULT_LOCAL_MEMORY_MIB);
      assert.equal(config.elasticsearchHeapGiB, 1, "4 GiB: (4 - 1.5) / 2 rounded down");
      assert.equal(local({ localMemoryMiB: { logging: 8192 } }).elasticsearchHeapGiB, 3);
    });

    it("fits the whole stack in 8 GiB of free memory with the defaults", () => {
      const total = Object.values(DEFAULT_LOCAL_MEMORY_MIB).reduce((sum, mib) => sum + mib, 0);
      assert.ok(total <= 8 * 1024, `${total} MiB`);
    });

    it("takes local UI ports, any subset, the others at their own port numbers", () => {
      const config = local({ localPorts: { grafana: 13000, kibana: 15601 } });
      assert.deepEqual(config.localPorts, { ...DEFAULT_LOCAL_PORTS, grafana: 13000, kibana: 15601 });
      assert.deepEqual(DEFAULT_LOCAL_PORTS, { kibana: 5601, elasticsearch: 9200, grafana: 3000, prometheus: 9090, alertmanager: 9093 });
    });

    // What a laptop is likely to have already: k3s, Kubernetes and its network plugins, Docker and Podman with their
    // address pools, home and office networks and VPNs, CGNAT (Tailscale).
    const COMMON_RANGES: Record<string, string[]> = {
      "k3s pods and services": ["10.42.0.0/16", "10.43.0.0/16"],
      "Kubernetes services (kubeadm, kind, minikube)": ["10.96.0.0/12"],
      "flannel pods": ["10.244.0.0/16"],
      "Calico pods, Docker's 192.168 pools, home routers": ["192.168.0.0/16"],
      "Weave Net": ["10.32.0.0/12"],
      "Podman's network and first pool": ["10.88.0.0/16", "10.89.0.0/16"],
      "OpenShift pods": ["10.128.0.0/14"],
      "MicroK8s services": ["10.152.183.0/24"],
      "Docker's default bridge and address pools, WSL2, the default AWS VPC": ["172.16.0.0/12"],
      "home and office networks and VPNs (10.0 to 10.15)": ["10.0.0.0/12"],
      "ZeroTier's suggested ranges": ["10.144.0.0/16", "10.147.17.0/24", "10.147.18.0/24", "10.147.19.0/24", "10.147.20.0/24", "10.241.0.0/16", "10.242.0.0/16", "10.243.0.0/16"],
      "CGNAT (Tailscale)": ["100.64.0.0/10"],
    };

    it("puts the hosts' network, by default, in a range that overlaps none of the common local ones (aws keeps its own)", () => {
      assert.equal(local().vpcCidr, DEFAULT_VPC_CIDR.docker);
      assert.equal(parseConfig(source({})).vpcCidr, "10.42.0.0/16", "the aws default stays as it was");
      const overlap = (a: string, b: string) => {
        const [ra, rb] = [ipaddr.IPv4.parseCIDR(a), ipaddr.IPv4.parseCIDR(b)];
        return ra[0].match(rb) || rb[0].match(ra);
      };
      const clashes = Object.entries(COMMON_RANGES).flatMap(([what, ranges]) =>
        ranges.filter((range) => overlap(DEFAULT_VPC_CIDR.docker, range)).map((range) => `${what}: ${range}`));
      assert.deepEqual(clashes, [], `${DEFAULT_VPC_CIDR.docker} overlaps`);
      assert.equal(ipaddr.IPv4.parse(DEFAULT_VPC_CIDR.docker.split("/")[0]).range(), "private");
      assert.equal(local({ vpcCidr: "10.42.0.0/16" }).vpcCidr, "10.42.0.0/16", "a stack that set its range keeps it");
    });

    it("ignores the AWS sizes, and AWS ignores the local ones", () => {
      assert.equal(local({ instanceTypes: { logging: "t4g.small" } }).elasticsearchHeapGiB, 1);
      assert.equal(parseConfig(source({ localMemoryMiB: { logging: 65536 } })).elasticsearchHeapGiB, 3);
    });

    it("accepts allowTwoZones, which only the aws target reads (its stand-in zones are always three)", () => {
      assert.equal(local({ elasticsearchNodes: "3", allowTwoZones: "true" }).allowTwoZones, true);
    });
  });

  it("on aws, checks the local UI ports (the tunnel's local ends) only against each other: SSH and the gateway are not published there", () => {
    assert.equal(parseConfig(source({ localPorts: { kibana: 2202, grafana: 8080 } })).localPorts.kibana, 2202);
  });

  it("reads allowTwoZones as true or false, false by default", () => {
    assert.equal(parseConfig(source({})).allowTwoZones, false);
    assert.equal(parseConfig(source({ allowTwoZones: "false" })).allowTwoZones, false);
    assert.equal(parseConfig(source({ elasticsearchNodes: "3", allowTwoZones: "true" })).allowTwoZones, true);
  });

  it("runs one host per role by default, and sizes shards and partitions with the Elasticsearch nodes", () => {
    assert.deepEqual(parseConfig(source({})).memberCounts, { logging: 1, web: 1, kafka: 1, monitoring: 1 });
    const cluster = parseConfig(source({ elasticsearchNodes: "5", kafkaBrokers: "3" }));
    assert.deepEqual(cluster.memberCounts, { logging: 5, web: 1, kafka: 3, monitoring: 1 });
    assert.equal(cluster.elasticsearchShards, 5);
    assert.equal(cluster.kafkaPartitions, 5, "unset, at least one partition per aggregator");
    assert.equal(parseConfig(source({ elasticsearchNodes: "3", elasticsearchShards: "2", kafkaPartitions: "12" })).kafkaPartitions, 12);
  });

  it("rejects a private key without its public key", () => {
    assert.match(configError({}, true), /aws-log-platform:sshPublicKey = \(not set\): expected sshPublicKey and the secret sshPrivateKey/);
  });

  it("reports every invalid value at once", () => {
    const message = configError({ kafkaPartitions: "0", vpcCidr: "10.0.0.0/8", operatorCidrs: ["nope"] });
    assert.equal(message.split("\n  - ").length - 1, 3, message);
  });

  it("derives the Elasticsearch heap from memory: half of what Kibana and the aggregator leave, 1 to 31 GiB", () => {
    assert.equal(elasticsearchHeapGiB(4), 1);
    assert.equal(elasticsearchHeapGiB(8), 3);
    assert.equal(elasticsearchHeapGiB(16), 7);
    assert.equal(elasticsearchHeapGiB(2), 1);
    assert.equal(elasticsearchHeapGiB(256), 31);
  });

  it("knows the memory of burstable and m/c/r sizes", () => {
    assert.equal(instanceMemoryGiB("t4g.large"), 8);
    assert.equal(instanceMemoryGiB("t3.micro"), 1);
    assert.equal(instanceMemoryGiB("m7g.xlarge"), 16);
    assert.equal(instanceMemoryGiB("c7g.2xlarge"), 16);
    assert.equal(instanceMemoryGiB("r6i.large"), 16);
    assert.equal(instanceMemoryGiB("q1.large"), undefined);
  });

  describe("operator CIDRs", () => {
    it("default to the deployer's public IP /32, from the injected lookup", async () => {
      let calls = 0;
      const cidrs = await resolveOperatorCidrs([], async () => { calls += 1; return "192.0.2.44\n"; });
      assert.deepEqual(cidrs, ["192.0.2.44/32"]);
      assert.equal(calls, 1);
    });

    it("use the configured list without any lookup", async () => {
      const cidrs = await resolveOperatorCidrs(["203.0.113.0/24"], async () => assert.fail("must not look up"));
      assert.deepEqual(cidrs, ["203.0.113.0/24"]);
    });

    it("fail clearly when the lookup answers something that is not an IPv4 address", async () => {
      await assert.rejects(resolveOperatorCidrs([], async () => "<html>"), /set operatorCidrs/);
    });
  });
});
