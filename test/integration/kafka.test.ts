import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin, ConfigResourceTypes, Consumer, MessagesStreamModes, ProduceAcks, Producer, stringDeserializers, stringSerializers } from "@platformatic/kafka";
import { bundleEnv, renderDotEnv } from "../../components/bundles/env";
import { REPO_ROOT } from "../../components/platform/repo";
import { healthcheckCommand } from "../helpers/compose";
import {
  KAFKA_BIN_DIR, KafkaCluster, LOOPBACK_KEYS, kafkaServiceEnvironment, loopbackFacts, run, toLoopback,
} from "../helpers/kafka-cluster";

/**
 * The kafka bundle's broker for real: its environment as the program renders it (loopback IPs), configured by the
 * image's own wrapper, then create-topics.sh, a Node client and checks/pipeline.sh's kafka stage against it. One
 * broker today; KafkaCluster takes N broker environments for the scale-out. The `it`s share the broker, in order.
 */
describe("kafka bundle: a real broker on loopback", function () {
  this.timeout(180_000);
  const dotEnv = bundleEnv({ role: "kafka", index: 0, name: "kafka" }, loopbackFacts());
  const brokerEnv = kafkaServiceEnvironment("kafka", dotEnv);
  const setupEnv = kafkaServiceEnvironment("kafka-setup", dotEnv);
  const topics = setupEnv.KAFKA_TOPICS.split(",");
  const retentionMs = String(Number(dotEnv.KAFKA_RETENTION_HOURS) * 3600 * 1000);
  const records = 300;
  let cluster: KafkaCluster | undefined;
  let admin: Admin;

  // Fails, naming what to install or run, without Java or the jars.
  before(async () => {
    cluster = await KafkaCluster.start([{ ip: "127.0.0.1", environment: brokerEnv }]);
    admin = new Admin({ clientId: "kafka-test", bootstrapBrokers: cluster.bootstrap() });
  });
  after(async () => {
    await admin?.close();
    await cluster?.stop();
  });

  const started = (): KafkaCluster => {
    assert.ok(cluster, "the broker did not start");
    return cluster;
  };

  it("changes only the listeners, the quorum voters and the log dir of the rendered environment", () => {
    const [broker] = started().brokers;
    const changed = Object.keys(brokerEnv).filter((key) => broker.environment[key] !== brokerEnv[key]);
    assert.deepEqual(changed.sort(), [...LOOPBACK_KEYS].sort());
    assert.deepEqual(Object.keys(broker.environment).sort(), Object.keys(brokerEnv).sort());
    for (const key of ["KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS"]) {
      assert.match(broker.environment[key], /^([A-Z]+:\/\/127\.0\.0\.1:\d+,?)+$/, key);
    }
  });

  it("maps N brokers' voters to each other's controller listeners on their own loopback IPs (the scale-out's shape)", () => {
    const voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093";
    const specs = ["1", "2", "3"].map((id) => ({
      ip: `127.0.0.${id}`,
      environment: { ...brokerEnv, KAFKA_NODE_ID: id, KAFKA_CONTROLLER_QUORUM_VOTERS: voters },
    }));
    const ports = new Map(["1", "2", "3"].map((id) => [id, new Map([[9092, 10_000 + Number(id)], [9093, 30_000 + Number(id)]])]));
    const environments = toLoopback(specs, ports, (id) => `/data/${id}`);
    for (const [i, environment] of environments.entries()) {
      const id = i + 1;
      assert.equal(environment.KAFKA_CONTROLLER_QUORUM_VOTERS, "1@127.0.0.1:30001,2@127.0.0.2:30002,3@127.0.0.3:30003");
      assert.equal(environment.KAFKA_LISTENERS, `EXTERNAL://127.0.0.${id}:1000${id},CONTROLLER://127.0.0.${id}:3000${id}`);
      assert.equal(environment.KAFKA_LOG_DIRS, `/data/${id}`);
    }
  });

  it("runs with the server.properties that the image's wrapper derived from that environment", async () => {
    const [broker] = started().brokers;
    const properties = new Map(fs.readFileSync(path.join(broker.configDir, "server.properties"), "utf8")
      .split("\n").filter((line) => line.includes("=")).map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    // Nothing but the bundle's KAFKA_* variables became broker config (KAFKA_HEAP_OPTS is a JVM option).
    const configVariables = Object.keys(brokerEnv).filter((key) => key.startsWith("KAFKA_") && key !== "KAFKA_HEAP_OPTS");
    assert.deepEqual([...properties.keys()].sort(), configVariables.map((key) => key.slice("KAFKA_".length).toLowerCase().replace(/_/g, ".")).sort());
    assert.equal(properties.get("process.roles"), brokerEnv.KAFKA_PROCESS_ROLES);
    assert.equal(properties.get("auto.create.topics.enable"), "false");
    assert.equal(properties.get("listeners"), broker.environment.KAFKA_LISTENERS);
    const [described] = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: brokerEnv.KAFKA_NODE_ID, configurationKeys: ["auto.create.topics.enable", "min.insync.replicas"] }],
    });
    const live = Object.fromEntries(described.configs.map((c) => [c.name, c.value]));
    assert.deepEqual(live, { "auto.create.topics.enable": "false", "min.insync.replicas": brokerEnv.KAFKA_MIN_INSYNC_REPLICAS });
  });

  /** create-topics.sh unchanged, as the kafka-setup service runs it; KAFKA_BIN (which it honours) -> the stand-ins. */
  async function createTopics(): Promise<string> {
    const env = { ...setupEnv, KAFKA_BOOTSTRAP: started().endpointsFor(setupEnv.KAFKA_BOOTSTRAP), KAFKA_BIN: KAFKA_BIN_DIR };
    const result = await run("bash", [path.join(REPO_ROOT, "hosts", "kafka", "setup", "create-topics.sh")], started().toolEnv(env));
    assert.equal(result.status, 0, result.output);
    return result.output;
  }

  async function assertTopicsAsConfigured(): Promise<void> {
    const metadata = await admin.metadata({ topics });
    const configs = await admin.describeConfigs({
      resources: topics.map((topic) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ["retention.ms", "min.insync.replicas"] })),
    });
    for (const topic of topics) {
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      assert.equal(partitions.length, Number(dotEnv.KAFKA_PARTITIONS), `${topic}: partitions`);
      for (const partition of partitions) {
        assert.equal(partition.replicas.length, Number(brokerEnv.KAFKA_DEFAULT_REPLICATION_FACTOR), `${topic}: replicas`);
      }
      const config = Object.fromEntries((configs.find((c) => c.resourceName === topic)?.configs ?? []).map((c) => [c.name, c.value]));
      assert.deepEqual(config, { "retention.ms": retentionMs, "min.insync.replicas": brokerEnv.KAFKA_MIN_INSYNC_REPLICAS }, topic);
    }
  }

  it("create-topics.sh creates one topic and converges one left by an older deploy", async () => {
    // An older deploy's topic: fewer partitions and a shorter retention than configured now.
    await admin.createTopics({ topics: [topics[1]], partitions: 1, replicas: 1, configs: [{ name: "retention.ms", value: "3600000" }] });
    const output = await createTopics();
    for (const topic of topics) assert.match(output, new RegExp(`kafka-setup: ${topic.replace(/\./g, "\\.")} ready`));
    await assertTopicsAsConfigured();
  });

  it("create-topics.sh run again changes nothing and succeeds", async () => {
    await createTopics();
    await assertTopicsAsConfigured();
  });

  /** The kafka stage of checks/pipeline.sh, from a bundle folder; `docker compose exec -T kafka` runs on this machine. */
  async function pipelineStage(): Promise<{ status: number | null; output: string }> {
    const bundle = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-kafka-"));
    try {
      fs.cpSync(path.join(REPO_ROOT, "checks"), path.join(bundle, "checks"), { recursive: true });
      fs.writeFileSync(path.join(bundle, ".env"), renderDotEnv(dotEnv));
      // In the container /opt/kafka/bin is the image's and localhost:9092 the broker's listener.
      const docker = path.join(bundle, "docker-exec-kafka");
      started().writeDockerStandIn(docker, ["localhost:9092"]);
      const env = { ...started().toolEnv(), DOCKER: docker, PIPELINE_CHECK_TIMEOUT: "2", PIPELINE_CHECK_INTERVAL: "1" };
      return await run("bash", [path.join(bundle, "checks", "pipeline.sh")], env, 60_000);
    } finally {
      fs.rmSync(bundle, { recursive: true, force: true });
    }
  }

  it("passes the kafka service's own healthcheck (bash ApiVersions round trip to the broker, no JVM)", async () => {
    const [, shell, flag, script] = healthcheckCommand("kafka", "kafka");
    assert.ok(script.includes("/dev/tcp/127.0.0.1/9092"), "a single broker's healthcheck no longer dials its broker listener");
    const result = await run("timeout", ["5", shell, flag, script.split("/dev/tcp/127.0.0.1/9092").join(`/dev/tcp/${started().bootstrap()[0].replace(":", "/")}`)], { PATH: process.env.PATH ?? "" }, 10_000);
    assert.equal(result.status, 0, result.output);
  });

  it("checks/pipeline.sh fails its topic stage while the gateway topic is empty", async () => {
    const result = await pipelineStage();
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, new RegExp(`stage topic: nothing after 2s; .*${dotEnv.KAFKA_TOPIC_GATEWAY.replace(/\./g, "\\.")}`));
  });

  it(`delivers ${records} keyed records produced with acks=all, each consumed once`, async () => {
    const topic = dotEnv.KAFKA_TOPIC_GATEWAY;
    const producer = new Producer({ clientId: "kafka-test-producer", bootstrapBrokers: started().bootstrap(), serializers: stringSerializers });
    try {
      for (let batch = 0; batch < records; batch += 50) {
        await producer.send({
          // Per send: 1.35.0 sends a non-idempotent producer's records with acks=1 whatever its constructor says.
          acks: ProduceAcks.ALL,
          messages: Array.from({ length: 50 }, (_, i) => ({ topic, key: `request-${batch + i}`, value: JSON.stringify({ n: batch + i }) })),
        });
      }
    } finally {
      await producer.close();
    }
    const consumer = new Consumer({ groupId: `kafka-test-${Date.now()}`, clientId: "kafka-test-consumer", bootstrapBrokers: started().bootstrap(), deserializers: stringDeserializers });
    const seen = new Map<string, number>();
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 500 });
      // Bounded: closing the stream ends the loop below with whatever arrived by then.
      const deadline = setTimeout(() => void stream.close(), 60_000);
      try {
        for await (const message of stream) {
          assert.equal(message.value, JSON.stringify({ n: Number(message.key.replace("request-", "")) }), "value of its key");
          seen.set(message.key, (seen.get(message.key) ?? 0) + 1);
          if (seen.size === records) break;
        }
      } finally {
        clearTimeout(deadline);
      }
    } finally {
      await consumer.close(true);
    }
    assert.equal(seen.size, records, "distinct keys consumed");
    assert.deepEqual([...seen.values()].filter((count) => count !== 1), [], "keys consumed more than once");
  });

  it("checks/pipeline.sh's topic stage counts exactly the records produced", async () => {
    const result = await pipelineStage();
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`^stage topic: ${records}$`, "m"));
  });
});
