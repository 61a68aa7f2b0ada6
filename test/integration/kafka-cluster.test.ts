import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  Admin, ConfigResourceTypes, Consumer, FindCoordinatorKeyTypes, MessagesStreamModes, ProduceAcks, Producer, stringDeserializers, stringSerializers,
} from "@platformatic/kafka";
import { REPO_ROOT } from "../../components/platform/repo";
import { ONE_OF_EACH } from "../../components/platform/topology";
import { BrokerSpec, GateOptions, KAFKA_BIN_DIR, KafkaCluster, kafkaGate, kafkaServiceEnvironment, run } from "../helpers/kafka-cluster";
import { SAMPLE_FACTS, sampleEnv, sampleMembers } from "../helpers/sample-facts";

/**
 * Three real brokers on loopback (127.0.0.1/.2/.3) from the `.env`s the program renders for a 3-broker cluster:
 * create-topics.sh, acks=all delivery through the loss of a broker, and cluster/gate.sh. The `it`s share the cluster,
 * in order.
 */
describe("kafka bundle: a real 3-broker KRaft cluster on loopback", function () {
  this.timeout(240_000);
  const facts = { ...SAMPLE_FACTS, members: sampleMembers({ ...ONE_OF_EACH, kafka: 3 }, (role, i) => (role === "kafka" ? `127.0.0.${i + 1}` : "127.0.0.1")) };
  const dotEnvs = [0, 1, 2].map((i) => sampleEnv("kafka", i, facts));
  // The bundle's 512 MiB heap times three does not fit beside the other tests: the only change to the rendered env.
  const specs = dotEnvs.map((dotEnv, i): BrokerSpec => ({ ip: `127.0.0.${i + 1}`, environment: { ...kafkaServiceEnvironment("kafka", dotEnv), KAFKA_HEAP_OPTS: "-Xms256m -Xmx256m" } }));
  const setupEnv = kafkaServiceEnvironment("kafka-setup", dotEnvs[0]);
  const topics = setupEnv.KAFKA_TOPICS.split(",");
  let cluster: KafkaCluster | undefined;
  let admin: Admin;

  before(async () => {
    cluster = await KafkaCluster.start(specs);
    admin = new Admin({ clientId: "kafka-cluster-test", bootstrapBrokers: cluster.bootstrap() });
  });
  after(async () => {
    await admin?.close();
    await cluster?.stop();
  });

  const started = (): KafkaCluster => {
    assert.ok(cluster, "the brokers did not start");
    return cluster;
  };

  it("renders three combined nodes voting for each other, replication 3 with 2 in sync", () => {
    for (const [i, env] of specs.map((s) => s.environment).entries()) {
      assert.equal(env.KAFKA_NODE_ID, String(i + 1));
      assert.equal(env.KAFKA_PROCESS_ROLES, "broker,controller");
      assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093");
      assert.equal(env.KAFKA_DEFAULT_REPLICATION_FACTOR, "3");
      assert.equal(env.KAFKA_MIN_INSYNC_REPLICAS, "2");
    }
  });

  it("create-topics.sh (unchanged) creates the topics with replication 3, min.insync.replicas 2 and the retention", async () => {
    const env = { ...setupEnv, KAFKA_BOOTSTRAP: started().endpointsFor(setupEnv.KAFKA_BOOTSTRAP), KAFKA_BIN: KAFKA_BIN_DIR };
    const result = await run("bash", [path.join(REPO_ROOT, "hosts", "kafka", "setup", "create-topics.sh")], started().toolEnv(env));
    assert.equal(result.status, 0, result.output);
    const metadata = await admin.metadata({ topics });
    const configs = await admin.describeConfigs({
      resources: topics.map((topic) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ["retention.ms", "min.insync.replicas"] })),
    });
    for (const topic of topics) {
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      assert.equal(partitions.length, Number(setupEnv.KAFKA_PARTITIONS), `${topic}: partitions`);
      for (const partition of partitions) assert.equal(new Set(partition.replicas).size, 3, `${topic}: replicas`);
      const config = Object.fromEntries((configs.find((c) => c.resourceName === topic)?.configs ?? []).map((c) => [c.name, c.value]));
      assert.deepEqual(config, { "retention.ms": String(Number(setupEnv.KAFKA_RETENTION_HOURS) * 3_600_000), "min.insync.replicas": "2" }, topic);
    }
  });

  const gate = (index: number, timeoutSeconds: number, options: GateOptions = {}) => kafkaGate(started(), dotEnvs, index, timeoutSeconds, options);

  it("cluster/gate.sh passes with the three brokers up", async () => {
    const result = await gate(2, 30);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /kafka gate: kafka-3: broker 3 is in the cluster, no partition under-replicated/);
  });

  it("cluster/gate.sh fails closed, naming the member, when a tool call fails or no broker answers a controller that has seen a leader", async () => {
    // docker failing: the old gate took any failure of its first call for a first formation and passed.
    const bundle = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-docker-"));
    try {
      const broken = path.join(bundle, "docker");
      fs.writeFileSync(broken, "#!/usr/bin/env bash\necho 'service \"kafka\" is not running' >&2\nexit 1\n", { mode: 0o755 });
      const failing = await gate(1, 5, { docker: broken });
      assert.equal(failing.status, 1, failing.output);
      assert.equal(failing.output, "kafka gate: kafka-2: after 5s kafka-broker-api-versions.sh failed (exit 1): service \"kafka\" is not running\n");
      assert.ok(failing.seconds < 5 + 10, `failed after ${failing.seconds}s`);
    } finally {
      fs.rmSync(bundle, { recursive: true, force: true });
    }
    // No broker answers (a bootstrap list where nothing listens), on a controller of the formed cluster.
    const silent = await gate(0, 5, { dotEnv: { KAFKA_BOOTSTRAP_SERVERS: "127.0.0.9:9092" } });
    assert.equal(silent.status, 1, silent.output);
    assert.match(silent.output, /^kafka gate: kafka: after 5s no broker of 127\.0\.0\.9:9092 answers, and this controller has seen a leader elected \(epoch [1-9]\d*\): a formed cluster without a quorum, not a first formation$/m);
    console.log(`      the gate failed after ${silent.seconds.toFixed(1)} s (bound 5 s)`);
  });

  /**
   * A consumer group whose coordinator is not the broker the next test stops. @platformatic/kafka 1.35 (the last
   * release for Node 20) throws out of its socket callback when a FindCoordinator answer names a broker its metadata
   * no longer lists, which kills the test process. The platform's consumers are librdkafka (the Fluent Bit
   * aggregators); the CloudTrail function uses this library only to produce, which needs no coordinator. The stop
   * still takes away partition leaders and in-sync replicas, only not this test's group coordinator.
   */
  async function groupNotCoordinatedBy(nodeId: number): Promise<string> {
    const admin = new Admin({ clientId: "kafka-cluster-coordinator", bootstrapBrokers: started().bootstrap() });
    try {
      for (let attempt = 0; attempt < 60; attempt++) {
        const group = `kafka-cluster-${Date.now()}-${attempt}`;
        const found = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [group] }).catch(() => []);
        if (found.length === 1 && found[0].nodeId >= 1 && found[0].nodeId !== nodeId) return group;
        await sleep(500);
      }
      assert.fail(`no consumer group with a coordinator other than broker ${nodeId} within 60 tries`);
    } finally {
      await admin.close();
    }
  }

  it("keeps producing and consuming (acks=all) through the loss of a broker: nothing lost, nothing duplicated", async () => {
    const topic = dotEnvs[0].KAFKA_TOPIC_GATEWAY;
    const total = 600;
    const producer = new Producer({ clientId: "kafka-cluster-producer", bootstrapBrokers: started().bootstrap(), serializers: stringSerializers, retries: 20, retryDelay: 500 });
    const consumer = new Consumer({ groupId: await groupNotCoordinatedBy(2), clientId: "kafka-cluster-consumer", bootstrapBrokers: started().bootstrap(), deserializers: stringDeserializers });
    const seen = new Map<string, number>();
    let stoppedAt = 0;
    let firstAfterStop = 0;
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 500 });
      const consumed = (async () => {
        for await (const message of stream) {
          seen.set(message.key, (seen.get(message.key) ?? 0) + 1);
          if (seen.size === total) break;
        }
      })();
      const deadline = setTimeout(() => void stream.close(), 150_000);
      try {
        for (let batch = 0; batch < total; batch += 20) {
          // Mid-stream: the broker of node 2 goes away (a controlled shutdown) while records keep coming.
          if (batch === total / 2) {
            await started().stopBroker("2");
            stoppedAt = Date.now();
            // The controlled shutdown has moved broker 2's leaderships; @platformatic/kafka retries a refused
            // connection on its cached leader (it clears metadata only on a stale-metadata error), so the test
            // client forgets it. librdkafka, the platform's producer, follows a leader change on its own.
            producer.clearMetadata();
          }
          await producer.send({
            acks: ProduceAcks.ALL,
            messages: Array.from({ length: 20 }, (_, i) => ({ topic, key: `r-${batch + i}`, value: String(batch + i) })),
          });
          if (stoppedAt && !firstAfterStop) firstAfterStop = Date.now();
          await sleep(20);
        }
        await consumed;
      } finally {
        clearTimeout(deadline);
      }
    } finally {
      await producer.close();
      await consumer.close(true);
    }
    console.log(`      first acks=all send after the stop: ${firstAfterStop - stoppedAt} ms`);
    assert.equal(seen.size, total, "distinct records consumed");
    assert.deepEqual([...seen.entries()].filter(([, count]) => count !== 1), [], "records consumed more than once");
  });

  it("cluster/gate.sh fails, naming the member and what is missing, while broker 2 is down", async () => {
    const result = await gate(1, 5);
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /^kafka gate: kafka-2: after 5s broker 2 is not registered \(2 broker\(s\) are\)$/m);
    const other = await gate(0, 5);
    assert.equal(other.status, 1, other.output);
    assert.match(other.output, /^kafka gate: kafka: after 5s \d+ partition\(s\) are under-replicated$/m);
  });

  it("cluster/gate.sh passes again once broker 2 is back and has caught up", async () => {
    started().startBroker("2");
    const result = await gate(1, 120);
    assert.equal(result.status, 0, result.output);
    console.log(`      gate passed ${result.seconds.toFixed(0)} s after the restart`);
  });
});

describe("kafka bundle: cluster/gate.sh on a new 3-broker cluster whose first member alone is up", function () {
  this.timeout(180_000);
  const facts = { ...SAMPLE_FACTS, members: sampleMembers({ ...ONE_OF_EACH, kafka: 3 }, (role, i) => (role === "kafka" ? `127.0.0.${i + 1}` : "127.0.0.1")) };
  const dotEnvs = [0, 1, 2].map((i) => sampleEnv("kafka", i, facts));
  const specs = dotEnvs.map((dotEnv, i): BrokerSpec => ({ ip: `127.0.0.${i + 1}`, environment: { ...kafkaServiceEnvironment("kafka", dotEnv), KAFKA_HEAP_OPTS: "-Xms256m -Xmx256m" } }));
  let cluster: KafkaCluster | undefined;

  after(async () => {
    await cluster?.stop();
  });

  it("passes member 1's gate as a first formation: no broker answers and its controller has never seen a leader (epoch 0)", async () => {
    cluster = await KafkaCluster.configure(specs);
    cluster.startBroker("1");
    // As the node step's `compose up --wait` and the gate: the gate asks until its controller's quorum state is there.
    const result = await kafkaGate(cluster, dotEnvs, 0, 60);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /^kafka gate: kafka: no broker of \S+ answers and this controller has never seen a leader elected \(epoch 0\): first formation \(no quorum yet\), passing$/m);
    console.log(`      first formation passed after ${result.seconds.toFixed(1)} s`);
  });
});
