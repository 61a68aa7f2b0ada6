import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";
import { ONE_OF_EACH } from "../../components/platform/topology";
import { interpolate, serviceEnvironment } from "../helpers/compose";
import { parseConfig, Plugin, prop } from "../helpers/fluent-bit";
import { BrokerSpec, KAFKA_BIN_DIR, KafkaCluster, kafkaGate, kafkaServiceEnvironment, PortPlan, run } from "../helpers/kafka-cluster";
import { freePort } from "../helpers/local-servers";
import { SAMPLE_FACTS, sampleEnv, sampleMembers } from "../helpers/sample-facts";

/**
 * The README's procedure for growing `kafkaBrokers` from 1 to 3, on real brokers with librdkafka clients configured
 * as the forwarder's out_kafka and the aggregator's kafka input are (their rdkafka.* settings, topics and group read
 * from forwarder/fluent-bit.yaml and hosts/logging/fluent-bit/fluent-bit.yaml with the rendered env):
 *
 * 1. the forwarders stop: a producer sends records 1..N to the single broker, flushes and is closed;
 * 2. the aggregators drain the old broker: a consumer in the aggregators' group reads everything, commits and is
 *    closed, and kafka-consumer-groups.sh (as the README runs it in the kafka container) reports lag 0;
 * 3. `pulumi up` rolls the kafka members as the program does (member 0's node with the cluster's env at the same
 *    address and ports, its gate, member 1, its gate, member 2, its gate, then kafka-setup's create-topics.sh); then
 *    the recreated forwarders, new clients, send what was still in the log files (N+1..M), and the recreated
 *    aggregator, a new group on the new cluster, reads from the earliest offset.
 *
 * Every number 1..M must be acknowledged (none failed) and consumed exactly once over the two phases. A long-running
 * producer across the roll is what the procedure avoids: librdkafka ignores the new cluster's leader epochs (lower
 * than the old broker's) and strands its queued records until it restarts.
 *
 * The client is Debian's python3-confluent-kafka (librdkafka 2.0.2).
 */

const PYTHON = "/usr/bin/python3";
// 127.0.0.41-49 are this test's.
const IPS = ["127.0.0.41", "127.0.0.42", "127.0.0.43"];
/** Records the forwarders shipped before they were stopped (1..N), and in all (N+1..M were still in the log files). */
const N = 5_000;
const M = 10_000;

/**
 * produce <bootstrap> <topics> <conf> <first> <last>: records first..last (key and value n) to the topics in turn; a
 * full queue is waited out, a produce call that fails is counted and not retried (what out_kafka does). Then flush
 * (bounded), destroy the client (what a stopped Fluent Bit does) and print one JSON summary.
 * consume <bootstrap> <topics> <conf> <seconds>: subscribe in the conf's group, read until every partition is at the
 * high watermark it had at the start (bounded), commit, close, and print the keys read as JSON.
 */
const SCRIPT = String.raw`
import json, sys, time
import confluent_kafka as ck
mode, bootstrap, topics, conf = sys.argv[1], sys.argv[2], sys.argv[3].split(","), json.loads(sys.argv[4])
conf["bootstrap.servers"] = bootstrap
errors = []
conf["error_cb"] = lambda err: errors.append(err.name())
if mode == "produce":
    first, last = int(sys.argv[5]), int(sys.argv[6])
    acked, failed, produce_errors = set(), {}, {}
    def report(err, msg):
        n = int(msg.key())
        if err is None:
            acked.add(n)
        else:
            failed[n] = err.name()
    p = ck.Producer(conf)
    n, begun = first, time.time()
    while n <= last:
        try:
            p.produce(topics[n % len(topics)], key=str(n), value=str(n), on_delivery=report)
        except BufferError:
            p.poll(0.1)
            continue
        except ck.KafkaException as e:
            produce_errors[n] = e.args[0].name()
        n += 1
        p.poll(0)
    left = p.flush(120)
    del p
    print(json.dumps({"libversion": ck.libversion()[0], "produced": last - first + 1, "acked": sorted(acked),
                      "failed": {**failed, **produce_errors}, "unflushed": left, "errors": sorted(set(errors)),
                      "seconds": time.time() - begun}), flush=True)
else:
    seconds = float(sys.argv[5])
    c = ck.Consumer(conf)
    meta = c.list_topics(timeout=30)
    missing = [t for t in topics if t not in meta.topics or meta.topics[t].error is not None]
    if missing:
        sys.exit("topics missing: " + ",".join(missing))
    ends = {}
    for t in topics:
        for part in meta.topics[t].partitions:
            ends[(t, part)] = c.get_watermark_offsets(ck.TopicPartition(t, part), timeout=30)[1]
    c.subscribe(topics)
    keys, pos, begun = [], {}, time.time()
    done = lambda: all(pos.get(k, 0) >= end for k, end in ends.items())
    while not done() and time.time() < begun + seconds:
        m = c.poll(1)
        if m is None or m.error():
            continue
        keys.append(int(m.key())); pos[(m.topic(), m.partition())] = m.offset() + 1
    complete = done()
    if keys:
        c.commit(asynchronous=False)
    c.close()
    print(json.dumps({"libversion": ck.libversion()[0], "keys": keys, "complete": complete, "errors": sorted(set(errors)),
                      "ends": {t + ":" + str(part): end for (t, part), end in ends.items()},
                      "seconds": time.time() - begun}), flush=True)
`;

/** Fails, saying what to install, unless Debian's Python has confluent_kafka. */
function requireConfluentKafka(): void {
  const check = spawnSync(PYTHON, ["-c", "import confluent_kafka"], { encoding: "utf8" });
  if (check.error || check.status !== 0) {
    assert.fail(`${PYTHON} cannot import confluent_kafka (librdkafka's Python client): apt-get install python3-confluent-kafka ` +
      `(listed in .ci/apt-packages.txt)\n${check.error?.message ?? check.stderr}`);
  }
}

/** A plugin's `rdkafka.*` properties as librdkafka settings (Fluent Bit passes each value on as a string). */
function rdkafkaSettings(plugin: Plugin, env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(plugin)
    .filter(([key]) => key.toLowerCase().startsWith("rdkafka."))
    .map(([key, value]) => [key.slice("rdkafka.".length), interpolate(String(value), env)]));
}

const config = (file: string) => parseConfig(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
const kafkaPlugins = (plugins: Plugin[] | undefined) => (plugins ?? []).filter((p) => String(prop(p, "name")) === "kafka");

/** The forwarder's out_kafka outputs (forwarder/fluent-bit.yaml) with the forwarder service's environment. */
function forwarderClient(env: Record<string, string>): { topics: string[]; settings: Record<string, string> } {
  const outputs = kafkaPlugins(config("forwarder/fluent-bit.yaml").pipeline?.outputs);
  assert.equal(outputs.length, 2, "the forwarder's kafka outputs");
  const [settings, ...others] = outputs.map((output) => rdkafkaSettings(output, env));
  for (const other of others) assert.deepEqual(other, settings, "every kafka output of the forwarder has the same rdkafka settings");
  return { topics: outputs.map((output) => interpolate(String(prop(output, "topics")), env)), settings };
}

/** The aggregator's kafka input (hosts/logging/fluent-bit/fluent-bit.yaml) with the aggregator service's environment. */
function aggregatorClient(env: Record<string, string>): { topics: string[]; group: string; settings: Record<string, string> } {
  const inputs = kafkaPlugins(config("hosts/logging/fluent-bit/fluent-bit.yaml").pipeline?.inputs);
  assert.equal(inputs.length, 1, "the aggregator's kafka inputs");
  const input = inputs[0];
  assert.equal(String(prop(input, "enable_auto_commit")), "false", "the aggregator commits after buffering, not automatically");
  const group = interpolate(String(prop(input, "group_id")), env);
  return {
    topics: interpolate(String(prop(input, "topics")), env).split(","),
    group,
    settings: { ...rdkafkaSettings(input, env), "group.id": group, "enable.auto.commit": "false" },
  };
}

interface Produced { libversion: string; produced: number; acked: number[]; failed: Record<string, string>; unflushed: number; errors: string[]; seconds: number }
interface Consumed { libversion: string; keys: number[]; complete: boolean; errors: string[]; ends: Record<string, number>; seconds: number }

async function python<T>(args: string[], timeoutMs: number): Promise<T> {
  const result = await run(PYTHON, ["-c", SCRIPT, ...args], { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs);
  assert.equal(result.status, 0, `${args[0]} failed (${result.status}):\n${result.output.slice(-4000)}`);
  const last = result.output.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as T;
}

/** A producer like the forwarder's, from its start to its stop: records first..last, flushed, then closed. */
async function produce(bootstrap: string, client: ReturnType<typeof forwarderClient>, first: number, last: number): Promise<Produced> {
  const result = await python<Produced>(["produce", bootstrap, client.topics.join(","), JSON.stringify(client.settings), String(first), String(last)], 240_000);
  assert.deepEqual({ failed: result.failed, unflushed: result.unflushed }, { failed: {}, unflushed: 0 }, `records ${first}..${last}: delivery reports`);
  const expected = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  assert.deepEqual(result.acked, expected, `records ${first}..${last}: acknowledged`);
  return result;
}

/** A consumer like the aggregator's: its group, reading to the end, committing, closing. */
async function consume(bootstrap: string, client: ReturnType<typeof aggregatorClient>): Promise<Consumed> {
  const result = await python<Consumed>(["consume", bootstrap, client.topics.join(","), JSON.stringify(client.settings), "120"], 240_000);
  assert.ok(result.complete, `the consumer in ${client.group} did not reach the end of ${client.topics.join(",")} at ${bootstrap}`);
  return result;
}

/**
 * The README's lag check: `docker compose exec -T -e KAFKA_HEAP_OPTS=-Xmx128m kafka /opt/kafka/bin/kafka-consumer-groups.sh
 * --bootstrap-server $KAFKA_BOOTSTRAP_SERVERS --describe --group <group>` on the kafka host, through the cluster's
 * docker stand-in. Returns the table's rows and the lag of every partition (LOG-END-OFFSET minus CURRENT-OFFSET,
 * `-` counting as 0: a partition the group never committed).
 */
async function groupLag(cluster: KafkaCluster, kafkaDotEnv: Record<string, string>, group: string): Promise<{ output: string; lag: number; rows: number; listed: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-lag-"));
  try {
    const docker = path.join(dir, "docker");
    cluster.writeDockerStandIn(docker, [kafkaDotEnv.KAFKA_BOOTSTRAP_SERVERS]);
    const result = await run(docker, ["compose", "exec", "-T", "-e", "KAFKA_HEAP_OPTS=-Xmx128m", "kafka", "/opt/kafka/bin/kafka-consumer-groups.sh",
      "--bootstrap-server", kafkaDotEnv.KAFKA_BOOTSTRAP_SERVERS, "--describe", "--group", group], cluster.toolEnv());
    assert.equal(result.status, 0, result.output);
    // Kafka 4.1 reports a group without offsets or members as not found (earlier releases: "does not exist").
    if (result.output.includes(`GroupIdNotFoundException: Group ${group} not found`)) return { output: result.output, lag: 0, rows: 0, listed: [] };
    const lines = result.output.split("\n").map((line) => line.trim().split(/\s+/));
    const header = lines.find((cells) => cells.includes("LOG-END-OFFSET"));
    assert.ok(header, `no table in:\n${result.output}`);
    const [current, end] = [header.indexOf("CURRENT-OFFSET"), header.indexOf("LOG-END-OFFSET")];
    const rows = lines.filter((cells) => cells[0] === group);
    const lag = rows.reduce((sum, cells) => sum + Number(cells[end]) - (cells[current] === "-" ? 0 : Number(cells[current])), 0);
    return { output: result.output, lag, rows: rows.length, listed: rows.map((cells) => `${cells[1]}:${cells[2]}`) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("kafka bundle: growing a single broker to 3 by the README's procedure (forwarders stopped, lag 0, pulumi up)", function () {
  this.timeout(900_000);
  const single = { ...SAMPLE_FACTS, members: sampleMembers(ONE_OF_EACH, (role) => (role === "kafka" ? IPS[0] : "127.0.0.1")) };
  const grown = { ...SAMPLE_FACTS, members: sampleMembers({ ...ONE_OF_EACH, kafka: 3 }, (role, i) => (role === "kafka" ? IPS[i] : "127.0.0.1")) };
  const singleEnv = sampleEnv("kafka", 0, single);
  const grownEnvs = [0, 1, 2].map((i) => sampleEnv("kafka", i, grown));
  // The bundle's 512 MiB heap times three does not fit beside the other tests: the only change to the rendered env.
  const spec = (dotEnv: Record<string, string>, ip: string): BrokerSpec =>
    ({ ip, environment: { ...kafkaServiceEnvironment("kafka", dotEnv), KAFKA_HEAP_OPTS: "-Xms256m -Xmx256m" } });
  // The web host's forwarder and the logging host's aggregator, before and after the change.
  const forwarderEnv = (facts: typeof single) => serviceEnvironment("web", "fluent-bit-forwarder", sampleEnv("web", 0, facts));
  const aggregatorEnv = (facts: typeof single) => serviceEnvironment("logging", "fluent-bit", sampleEnv("logging", 0, facts));
  let old: KafkaCluster | undefined;
  let grownCluster: KafkaCluster | undefined;

  after(async () => {
    await grownCluster?.stop();
    await old?.stop();
  });

  it("delivers every record exactly once: 1..N through the old broker, N+1..M through the new cluster", async () => {
    requireConfluentKafka();
    const begun = Date.now();
    const since = () => `${((Date.now() - begun) / 1000).toFixed(0)} s`;
    const steps: string[] = [];
    const forwarderBefore = forwarderClient(forwarderEnv(single));
    const forwarderAfter = forwarderClient(forwarderEnv(grown));
    const aggregatorBefore = aggregatorClient(aggregatorEnv(single));
    const aggregatorAfter = aggregatorClient(aggregatorEnv(grown));
    assert.equal(forwarderBefore.settings["message.timeout.ms"], "0", "the forwarder retries without a message timeout");
    assert.equal(aggregatorAfter.settings["auto.offset.reset"], "earliest", "a new aggregator group starts at the earliest offset");
    assert.equal(aggregatorAfter.group, aggregatorBefore.group);

    // Member 0 keeps its address and ports across the change, as a host does.
    const ports: PortPlan = new Map();
    for (const [i] of IPS.entries()) ports.set(String(i + 1), new Map([[9092, await freePort()], [9093, await freePort()]]));
    const setup = async (cluster: KafkaCluster, dotEnv: Record<string, string>) => {
      const env = kafkaServiceEnvironment("kafka-setup", dotEnv);
      const result = await run("bash", [path.join(REPO_ROOT, "hosts", "kafka", "setup", "create-topics.sh")],
        cluster.toolEnv({ ...env, KAFKA_BOOTSTRAP: cluster.endpointsFor(env.KAFKA_BOOTSTRAP), KAFKA_BIN: KAFKA_BIN_DIR }));
      assert.equal(result.status, 0, result.output);
    };

    // The single broker and its topics.
    old = await KafkaCluster.start([spec(singleEnv, IPS[0])], ports);
    await setup(old, singleEnv);
    steps.push(`single broker up at ${since()}`);

    // Step 1: what the forwarders shipped until they were stopped; a stopped Fluent Bit flushes and closes its client.
    const oldBootstrap = old.endpointsFor(forwarderEnv(single).KAFKA_BOOTSTRAP_SERVERS);
    const phase1 = await produce(oldBootstrap, forwarderBefore, 1, N);
    steps.push(`records 1..${N} produced in ${phase1.seconds.toFixed(1)} s`);

    // Step 2: the aggregators drain the old broker; its group's lag is then 0.
    const drained = await consume(old.endpointsFor(aggregatorEnv(single).KAFKA_BOOTSTRAP_SERVERS), aggregatorBefore);
    steps.push(`${drained.keys.length} consumed from the old broker in ${drained.seconds.toFixed(1)} s`);
    const lag = await groupLag(old, singleEnv, aggregatorBefore.group);
    // A stopped group lists only the partitions it committed: every partition of the forwarder's topics; the others
    // (the CloudTrail topic) it never read, and they must be empty.
    assert.equal(lag.lag, 0, `the old broker still holds unconsumed records:\n${lag.output}`);
    const unlisted = Object.keys(drained.ends).filter((partition) => !lag.listed.includes(partition));
    assert.deepEqual(unlisted.filter((partition) => forwarderBefore.topics.some((topic) => partition.startsWith(`${topic}:`))), [], lag.output);
    assert.deepEqual(unlisted.filter((partition) => drained.ends[partition] !== 0), [], `partitions with records the group never committed:\n${lag.output}`);
    assert.equal(lag.rows, forwarderBefore.topics.length * Number(singleEnv.KAFKA_PARTITIONS), `partitions listed:\n${lag.output}`);

    // Step 3: pulumi up rolls the kafka members (member 0's node: compose recreates the kafka service, the single
    // broker stops and the cluster's node 1 starts on the new volume at the same address), then kafka-setup.
    const rollBegun = Date.now();
    await old.stopBroker("1");
    grownCluster = await KafkaCluster.configure(grownEnvs.map((dotEnv, i) => spec(dotEnv, IPS[i])), ports);
    for (const [i] of grownEnvs.entries()) {
      grownCluster.startBroker(String(i + 1));
      const gate = await kafkaGate(grownCluster, grownEnvs, i, 300);
      assert.equal(gate.status, 0, `${gate.output}\n${grownCluster.logTails()}`);
    }
    await setup(grownCluster, grownEnvs[0]);
    steps.push(`roll and kafka-setup in ${((Date.now() - rollBegun) / 1000).toFixed(0)} s`);
    const fresh = await groupLag(grownCluster, grownEnvs[0], aggregatorAfter.group);
    assert.equal(fresh.rows, 0, `the new cluster already has offsets of ${aggregatorAfter.group}:\n${fresh.output}`);

    // The recreated forwarders (new clients) ship what was still in the log files; the recreated aggregator's group
    // is new on this cluster and starts at the earliest offset.
    const phase2 = await produce(grownCluster.endpointsFor(forwarderEnv(grown).KAFKA_BOOTSTRAP_SERVERS), forwarderAfter, N + 1, M);
    steps.push(`records ${N + 1}..${M} produced in ${phase2.seconds.toFixed(1)} s`);
    const resumed = await consume(grownCluster.endpointsFor(aggregatorEnv(grown).KAFKA_BOOTSTRAP_SERVERS), aggregatorAfter);
    steps.push(`${resumed.keys.length} consumed from the new cluster in ${resumed.seconds.toFixed(1)} s`);
    const caughtUp = await groupLag(grownCluster, grownEnvs[0], aggregatorAfter.group);
    assert.equal(caughtUp.lag, 0, caughtUp.output);

    const counts = new Map<number, number>();
    for (const key of [...drained.keys, ...resumed.keys]) counts.set(key, (counts.get(key) ?? 0) + 1);
    const lost = Array.from({ length: M }, (_, i) => i + 1).filter((n) => !counts.has(n));
    const duplicated = [...counts].filter(([, count]) => count > 1).map(([key]) => key);
    const stray = [...counts.keys()].filter((key) => key < 1 || key > M);
    console.log(`      librdkafka ${phase1.libversion}: ${steps.join(", ")}; total ${since()}`);
    console.log(`      produced ${phase1.produced} + ${phase2.produced}, acknowledged ${phase1.acked.length} + ${phase2.acked.length}, ` +
      `failed 0; consumed ${drained.keys.length} + ${resumed.keys.length}: lost ${lost.length}, duplicated ${duplicated.length}; ` +
      `client errors ${[...new Set([...phase1.errors, ...phase2.errors, ...drained.errors, ...resumed.errors])].join(",") || "none"}`);
    assert.deepEqual(lost.slice(0, 20), [], `records consumed in neither phase (${lost.length})`);
    assert.deepEqual(duplicated.slice(0, 20), [], `records consumed more than once (${duplicated.length})`);
    assert.deepEqual(stray, [], "records that were never produced");
    assert.deepEqual(drained.keys.slice().sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), "the old broker's records");
  });
});
