import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin } from "@platformatic/kafka";
import { EnvFacts, renderDotEnv } from "../../components/bundles/env";
import { REPO_ROOT } from "../../components/platform/repo";
import { IMAGE_VERSIONS } from "../../components/platform/versions";
import { ONE_OF_EACH } from "../../components/platform/topology";
import { serviceEnvironment } from "./compose";
import { freePort, Processes, waitFor } from "./local-servers";
import { SAMPLE_FACTS, sampleMembers } from "./sample-facts";

/**
 * Real Kafka brokers on loopback, configured and started the way the apache/kafka image does it (docker/jvm/launch):
 * the container environment goes through the image's own kafka.docker.KafkaDockerWrapper (`setup` writes
 * server.properties and formats the storage), then kafka-server-start.sh runs the broker. The jars are the ones of
 * the pinned image version, resolved from Maven Central by .ci/run (test/kafka/pom.xml).
 */

const KAFKA_VERSION = IMAGE_VERSIONS.KAFKA_VERSION;
export const KAFKA_LIBS_DIR = path.join(REPO_ROOT, "test", "kafka", "target", `kafka-${KAFKA_VERSION}`);
/** Stand-ins for the image's /opt/kafka/bin/*.sh over those jars. */
export const KAFKA_BIN_DIR = path.join(__dirname, "kafka-bin");
/** /opt/kafka/bin scripts that are one `kafka-run-class.sh <class>` line and have no stand-in file of their own. */
const TOOL_CLASSES: Record<string, string> = {
  "kafka-consumer-groups.sh": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
};
const RESOLVE_COMMAND = `mvn -q -B -f test/kafka/pom.xml -Dkafka.version=${KAFKA_VERSION} dependency:copy-dependencies`;
/** The budget of the test machine per broker. */
const MAX_HEAP_MIB = 512;
const READY_TIMEOUT_MS = 120_000;

/** Fails, saying what to install or run, unless Java and the jars of the pinned Kafka version are on this machine. */
export function requireKafkaJars(): void {
  if (spawnSync("java", ["-version"]).error) {
    assert.fail("java is not installed: apt-get install openjdk-17-jre-headless (listed in .ci/apt-packages.txt)");
  }
  if (!fs.existsSync(path.join(KAFKA_LIBS_DIR, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
    assert.fail(`the Kafka ${KAFKA_VERSION} jars are not in ${path.relative(REPO_ROOT, KAFKA_LIBS_DIR)}: run ` +
      `\`${RESOLVE_COMMAND}\` (Maven: apt-get install maven, listed in .ci/apt-packages.txt; .ci/run does it)`);
  }
}

/** The program's deploy-time facts with this machine standing in for every host. */
export function loopbackFacts(kafkaIp = "127.0.0.1"): EnvFacts {
  return { ...SAMPLE_FACTS, members: sampleMembers(ONE_OF_EACH, (role) => (role === "kafka" ? kafkaIp : "127.0.0.1")) };
}

/** A kafka bundle service's `environment` as its container gets it: the rendered .env interpolated as compose does. */
export const kafkaServiceEnvironment = (service: string, dotEnv: Record<string, string>): Record<string, string> =>
  serviceEnvironment("kafka", service, dotEnv);

/** One broker: the loopback address it binds to (127.0.0.0/8 is all loopback) and its container environment. */
export interface BrokerSpec {
  ip: string;
  environment: Record<string, string>;
}

interface Listener { name: string; host: string; port: number }

function parseListeners(key: string, value: string): Listener[] {
  return value.split(",").map((entry) => {
    const match = /^([A-Za-z0-9_]+):\/\/([^:/]*):(\d+)$/.exec(entry.trim());
    if (!match) throw new Error(`${key}: '${entry}' is not NAME://host:port`);
    return { name: match[1], host: match[2], port: Number(match[3]) };
  });
}

/**
 * The only variables the harness changes, and why: `KAFKA_LISTENERS` binds every interface on ports that other
 * processes of this machine may hold, and N brokers here share one machine (-> the broker's loopback IP, a free
 * port per listener); `KAFKA_ADVERTISED_LISTENERS` names `kafka`, a compose network name (-> the same endpoints);
 * `KAFKA_CONTROLLER_QUORUM_VOTERS` names `localhost`, which inside a container is that broker alone (-> each
 * voter's controller endpoint); `KAFKA_LOG_DIRS` is the container's volume (-> a temp folder).
 */
export const LOOPBACK_KEYS = ["KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LOG_DIRS"];

/** Loopback ports chosen per broker (by node id), keyed by the port each listener has in the bundle. */
export type PortPlan = Map<string, Map<number, number>>;

/** The brokers' environments with only LOOPBACK_KEYS rewritten for loopback. */
export function toLoopback(brokers: BrokerSpec[], ports: PortPlan, logDir: (nodeId: string) => string): Record<string, string>[] {
  const byNode = new Map(brokers.map((broker) => [broker.environment.KAFKA_NODE_ID, broker]));
  const endpoint = (nodeId: string, bundlePort: number): string => {
    const port = ports.get(nodeId)?.get(bundlePort);
    const broker = byNode.get(nodeId);
    if (port === undefined || broker === undefined) throw new Error(`no listener of node ${nodeId} on port ${bundlePort}`);
    return `${broker.ip}:${port}`;
  };
  return brokers.map(({ environment }) => {
    const nodeId = environment.KAFKA_NODE_ID;
    const listeners = parseListeners("KAFKA_LISTENERS", environment.KAFKA_LISTENERS);
    const portOf = (name: string): number => {
      const listener = listeners.find((l) => l.name === name);
      if (!listener) throw new Error(`KAFKA_ADVERTISED_LISTENERS: ${name} is not in KAFKA_LISTENERS`);
      return listener.port;
    };
    const voters = environment.KAFKA_CONTROLLER_QUORUM_VOTERS.split(",").map((voter) => {
      const match = /^(\d+)@(.+):(\d+)$/.exec(voter.trim());
      if (!match) throw new Error(`KAFKA_CONTROLLER_QUORUM_VOTERS: '${voter}' is not id@host:port`);
      return `${match[1]}@${endpoint(match[1], Number(match[3]))}`;
    });
    return {
      ...environment,
      KAFKA_LISTENERS: listeners.map((l) => `${l.name}://${endpoint(nodeId, l.port)}`).join(","),
      KAFKA_ADVERTISED_LISTENERS: parseListeners("KAFKA_ADVERTISED_LISTENERS", environment.KAFKA_ADVERTISED_LISTENERS)
        .map((l) => `${l.name}://${endpoint(nodeId, portOf(l.name))}`).join(","),
      KAFKA_CONTROLLER_QUORUM_VOTERS: voters.join(","),
      KAFKA_LOG_DIRS: logDir(nodeId),
    };
  });
}

/** Refuses a heap beyond the test machine's budget (the bundle's own setting is used as rendered). */
function checkHeap(nodeId: string, heapOpts: string | undefined): void {
  const match = /-Xmx(\d+)([mMgG])/.exec(heapOpts ?? "");
  const mib = match ? Number(match[1]) * (/[gG]/.test(match[2]) ? 1024 : 1) : Infinity;
  if (mib > MAX_HEAP_MIB) {
    throw new Error(`broker ${nodeId}: KAFKA_HEAP_OPTS '${heapOpts ?? ""}' must set -Xmx of at most ${MAX_HEAP_MIB}m for the tests`);
  }
}

/** An environment from nothing but `vars`, PATH and JAVA_HOME: the wrapper turns every KAFKA_* it sees into config. */
function isolatedEnv(vars: Record<string, string>): Record<string, string> {
  const { PATH = "/usr/bin:/bin", JAVA_HOME } = process.env;
  return { PATH, ...(JAVA_HOME ? { JAVA_HOME } : {}), TEST_KAFKA_LIBS: KAFKA_LIBS_DIR, ...vars };
}

/** Runs a command to its end without blocking the event loop; output is stdout and stderr together. */
export function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, output }));
  });
}

interface StartedBroker {
  nodeId: string;
  spec: BrokerSpec;
  environment: Record<string, string>;
  configDir: string;
  log: string;
}

export class KafkaCluster {
  /** One Processes per broker: a test stops and restarts brokers one at a time. */
  private readonly running = new Map<string, Processes>();

  private constructor(
    private readonly root: string,
    readonly brokers: StartedBroker[],
  ) {}

  /** Configures, formats and starts the brokers, and waits until all of them are in the cluster's metadata. */
  static async start(specs: BrokerSpec[], fixedPorts?: PortPlan): Promise<KafkaCluster> {
    const cluster = await KafkaCluster.configure(specs, fixedPorts);
    try {
      for (const broker of cluster.brokers) cluster.startBroker(broker.nodeId);
      await cluster.waitUntilBrokersJoin();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /**
   * Configures and formats the brokers' storage, starting none: the caller starts them (startBroker) as it needs.
   * `fixedPorts` gives listeners the loopback ports a caller chose (by node id and bundle port) instead of free ones:
   * a broker of another cluster at the same address and ports, as member 0 is when a single broker grows to 3.
   */
  static async configure(specs: BrokerSpec[], fixedPorts?: PortPlan): Promise<KafkaCluster> {
    requireKafkaJars();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-cluster-"));
    const ports: PortPlan = new Map();
    for (const { environment } of specs) {
      checkHeap(environment.KAFKA_NODE_ID, environment.KAFKA_HEAP_OPTS);
      const byBundlePort = new Map<number, number>();
      for (const listener of parseListeners("KAFKA_LISTENERS", environment.KAFKA_LISTENERS)) {
        byBundlePort.set(listener.port, fixedPorts?.get(environment.KAFKA_NODE_ID)?.get(listener.port) ?? await freePort());
      }
      ports.set(environment.KAFKA_NODE_ID, byBundlePort);
    }
    const environments = toLoopback(specs, ports, (nodeId) => path.join(root, `node-${nodeId}`, "data"));
    const brokers = specs.map((spec, i): StartedBroker => {
      const nodeId = spec.environment.KAFKA_NODE_ID;
      const dir = path.join(root, `node-${nodeId}`);
      return { nodeId, spec, environment: environments[i], configDir: path.join(dir, "config"), log: path.join(root, `kafka-${nodeId}.log`) };
    });
    const cluster = new KafkaCluster(root, brokers);
    try {
      await Promise.all(brokers.map((broker) => cluster.setUp(broker)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /**
   * The image's setup step: the wrapper writes server.properties and the log4j files into the final configs dir
   * from the environment (the default configs dir holds the distribution's log4j2.yaml, nothing is mounted), then
   * formats the storage; "already formatted" is accepted, as docker/jvm/launch does.
   */
  private async setUp(broker: StartedBroker): Promise<void> {
    const dir = path.dirname(broker.configDir);
    const defaults = path.join(dir, "defaults");
    const mounted = path.join(dir, "mounted");
    for (const folder of [defaults, mounted, broker.configDir]) fs.mkdirSync(folder, { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, "test", "kafka", "log4j2.yaml"), path.join(defaults, "log4j2.yaml"));
    const result = await run(path.join(KAFKA_BIN_DIR, "kafka-run-class.sh"), [
      "kafka.docker.KafkaDockerWrapper", "setup",
      "--default-configs-dir", defaults, "--mounted-configs-dir", mounted, "--final-configs-dir", broker.configDir,
    ], isolatedEnv(broker.environment));
    if (result.status !== 0 && !/already formatted/i.test(result.output)) {
      throw new Error(`KafkaDockerWrapper setup of broker ${broker.nodeId} failed (${result.status}):\n${result.output}`);
    }
  }

  private broker(nodeId: string): StartedBroker {
    const broker = this.brokers.find((b) => b.nodeId === nodeId);
    if (!broker) throw new Error(`no broker with node id ${nodeId}`);
    return broker;
  }

  /** `exec kafka-server-start.sh /opt/kafka/config/server.properties`, with the container's environment only. */
  startBroker(nodeId: string): void {
    const broker = this.broker(nodeId);
    if (this.running.has(nodeId)) throw new Error(`broker ${nodeId} is already running`);
    const processes = new Processes();
    this.running.set(nodeId, processes);
    const env = Object.entries(isolatedEnv(broker.environment)).map(([key, value]) => `${key}=${value}`);
    // A restart's log replaces the previous run's.
    processes.start(this.root, path.basename(broker.log, ".log"), "env", [
      "-i", ...env, path.join(KAFKA_BIN_DIR, "kafka-server-start.sh"), path.join(broker.configDir, "server.properties"),
    ]);
  }

  /** Stops one broker (SIGTERM: a controlled shutdown), keeping its data for a restart. */
  async stopBroker(nodeId: string): Promise<void> {
    this.broker(nodeId);
    await this.running.get(nodeId)?.stopAll();
    this.running.delete(nodeId);
  }

  private async waitUntilBrokersJoin(): Promise<void> {
    try {
      await waitFor(`${this.brokers.length} broker(s) in the metadata of ${this.bootstrap().join(",")}`, READY_TIMEOUT_MS, async () => {
        const admin = new Admin({ clientId: "harness", bootstrapBrokers: this.bootstrap(), retries: 0, timeout: 5_000 });
        try {
          return (await admin.metadata({ topics: [] })).brokers.size === this.brokers.length;
        } finally {
          await admin.close();
        }
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.logTails()}`);
    }
  }

  /** The end of every started broker's log, for a failure message. */
  logTails(): string {
    return this.brokers.filter((b) => fs.existsSync(b.log)).map((b) => `--- ${b.log}\n${fs.readFileSync(b.log, "utf8").slice(-4000)}`).join("\n");
  }

  /** `host:port` of every broker's listener `name` (EXTERNAL: what the web and logging hosts use). */
  bootstrap(listener = "EXTERNAL"): string[] {
    return this.brokers.map((broker) => {
      const found = parseListeners("KAFKA_LISTENERS", broker.environment.KAFKA_LISTENERS).find((l) => l.name === listener);
      if (!found) throw new Error(`broker ${broker.nodeId} has no ${listener} listener`);
      return `${found.host}:${found.port}`;
    });
  }

  /**
   * The loopback endpoint standing in for an address a bundle names (`127.0.0.2:9092`, `localhost:9092` in the
   * container): the listener that has that port in the bundle, on the broker advertising that host if any.
   */
  endpointFor(address: string): string {
    const [host, port] = address.split(":");
    const listenerOf = (broker: StartedBroker): Listener | undefined =>
      parseListeners("KAFKA_LISTENERS", broker.spec.environment.KAFKA_LISTENERS).find((l) => l.port === Number(port));
    const candidates = this.brokers.filter((broker) => listenerOf(broker) !== undefined);
    const advertising = candidates.find((broker) => broker.spec.environment.KAFKA_ADVERTISED_LISTENERS.includes(`//${host}:${port}`));
    const broker = advertising ?? candidates[0];
    if (!broker) throw new Error(`no broker listens on port ${port} in the bundle (${address})`);
    return this.bootstrap(listenerOf(broker)?.name)[this.brokers.indexOf(broker)];
  }

  /** endpointFor of every address of a comma-separated list (KAFKA_BOOTSTRAP_SERVERS). */
  endpointsFor(addresses: string): string {
    return addresses.split(",").map((address) => this.endpointFor(address)).join(",");
  }

  /**
   * A `DOCKER` stand-in for the bundle's scripts: `compose exec -T kafka /opt/kafka/bin/<tool> ...` runs the tool's
   * stand-in on this machine with each of `addresses` (as the bundle names them) replaced by its loopback endpoints.
   * A tool without a stand-in in kafka-bin runs its class of TOOL_CLASSES through kafka-run-class.sh, as the image's
   * script does.
   */
  writeDockerStandIn(file: string, addresses: string[]): void {
    const cases = addresses.map((address) => `    ${JSON.stringify(address)}) args+=(${JSON.stringify(this.endpointsFor(address))}) ;;`);
    fs.writeFileSync(file, [
      "#!/usr/bin/env bash",
      "set -euo pipefail",
      `[[ "$1 $2 $3" == "compose exec -T" ]] || { echo "unexpected docker call: $*" >&2; exit 1; }`,
      "shift 3",
      // `-e NAME=value` pairs set the tool's environment, as compose exec does.
      `while [[ $1 == -e ]]; do export "$2"; shift 2; done`,
      `[[ $1 == kafka ]] || { echo "unexpected service: $1" >&2; exit 1; }`,
      "shift",
      `tool=$(basename "$1"); shift`,
      `command=${KAFKA_BIN_DIR}/$tool`,
      "case $tool in",
      ...Object.entries(TOOL_CLASSES).map(([tool, cls]) => `  ${tool}) command=${KAFKA_BIN_DIR}/kafka-run-class.sh; set -- ${cls} "$@" ;;`),
      "esac",
      "args=()",
      "for arg in \"$@\"; do",
      "  case $arg in",
      ...cases,
      "    *) args+=(\"$arg\") ;;",
      "  esac",
      "done",
      "exec \"$command\" \"${args[@]}\"",
    ].join("\n") + "\n", { mode: 0o755 });
  }

  /** The environment the bin stand-ins need beside a script's own variables; tools log as the image's do. */
  toolEnv(vars: Record<string, string> = {}): Record<string, string> {
    const toolsLog4j = path.join(this.brokers[0].configDir, "tools-log4j2.yaml");
    return isolatedEnv({ KAFKA_LOG4J_OPTS: `-Dlog4j2.configurationFile=file:${toolsLog4j}`, ...vars });
  }

  /** Stops every broker (SIGTERM: a controlled shutdown) and removes their data. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all([...this.running.keys()].map((nodeId) => this.stopBroker(nodeId)));
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export interface GateOptions {
  /** Variables of the member's .env replaced. */
  dotEnv?: Record<string, string>;
  /** DOCKER in place of the stand-in. */
  docker?: string;
}

/**
 * cluster/gate.sh of member `index` of `cluster` from a bundle folder with its .env; `docker compose exec` runs here: a
 * tool through the cluster's stand-in, and `cat` of the kafka service's data volume (/var/lib/kafka/data, where the
 * gate reads the KRaft quorum state) on that member's log dir.
 */
export async function kafkaGate(cluster: KafkaCluster, dotEnvs: Record<string, string>[], index: number, timeoutSeconds: number,
  options: GateOptions = {}): Promise<{ status: number | null; output: string; seconds: number }> {
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-gate-"));
  try {
    fs.cpSync(path.join(REPO_ROOT, "hosts", "kafka", "cluster"), path.join(bundle, "cluster"), { recursive: true });
    fs.writeFileSync(path.join(bundle, ".env"), renderDotEnv({ ...dotEnvs[index], ...options.dotEnv }));
    const tools = path.join(bundle, "docker-exec-kafka");
    cluster.writeDockerStandIn(tools, [dotEnvs[index].KAFKA_BOOTSTRAP_SERVERS]);
    const docker = path.join(bundle, "docker");
    const logDir = cluster.brokers[index].environment.KAFKA_LOG_DIRS;
    fs.writeFileSync(docker, [
      "#!/usr/bin/env bash",
      `if [[ "$1 $2 $3 $4 $5" == "compose exec -T kafka cat" && $6 == /var/lib/kafka/data/* ]]; then exec cat ${JSON.stringify(logDir)}/"\${6#/var/lib/kafka/data/}"; fi`,
      `exec ${JSON.stringify(tools)} "$@"`,
    ].join("\n") + "\n", { mode: 0o755 });
    const env = { ...cluster.toolEnv(), DOCKER: options.docker ?? docker, KAFKA_GATE_TIMEOUT: String(timeoutSeconds), KAFKA_GATE_INTERVAL: "1", KAFKA_GATE_CALL_SECONDS: "30" };
    const begun = Date.now();
    const result = await run("bash", [path.join(bundle, "cluster", "gate.sh")], env, (timeoutSeconds + 90) * 1000);
    return { ...result, seconds: (Date.now() - begun) / 1000 };
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}
