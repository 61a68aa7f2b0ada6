import { strict as assert } from "assert";
import { KAFKA_CLUSTER_IDS } from "../../components/bundles/env";
import { healthcheckCommand, interpolate, loadCompose } from "../helpers/compose";
import { clusterFacts, sampleEnv, sampleIpOf } from "../helpers/sample-facts";

/** The kafka `.env` of every member, for 1 and for 3..9 brokers, as the program renders it. */
describe("kafka cluster: each member's .env", () => {
  const envs = (brokers: number) => Array.from({ length: brokers }, (_, i) => sampleEnv("kafka", i, clusterFacts({ kafka: brokers })));

  it("a single broker is one combined node, replication 1, on the cluster id and volume it always had", () => {
    const [env] = envs(1);
    assert.equal(env.KAFKA_NODE_ID, "1");
    assert.equal(env.KAFKA_PROCESS_ROLES, "broker,controller");
    assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, `1@${sampleIpOf("kafka")}:9093`);
    assert.equal(env.KAFKA_REPLICATION_FACTOR, "1");
    assert.equal(env.KAFKA_MIN_INSYNC_REPLICAS, "1");
    assert.equal(env.KAFKA_CLUSTER_ID, KAFKA_CLUSTER_IDS.single);
    assert.equal(env.KAFKA_DATA_VOLUME, "kafka_kafka-data");
    // Its broker serving is what makes it healthy, as before.
    assert.equal(env.KAFKA_HEALTHCHECK_PORT, "9092");
  });

  for (const brokers of [3, 4, 9]) {
    it(`${brokers} brokers: the first 3 combined and voting, the rest brokers only; replication 3, 2 in sync`, () => {
      const all = envs(brokers);
      const facts = clusterFacts({ kafka: brokers });
      const voters = [0, 1, 2].map((i) => `${i + 1}@${sampleIpOf("kafka", i, facts)}:9093`).join(",");
      for (const [i, env] of all.entries()) {
        const ip = sampleIpOf("kafka", i, facts);
        const combined = i < 3;
        assert.equal(env.KAFKA_NODE_ID, String(i + 1));
        assert.equal(env.KAFKA_PROCESS_ROLES, combined ? "broker,controller" : "broker", `member ${i}`);
        assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, voters);
        assert.equal(env.KAFKA_LISTENERS, combined ? "EXTERNAL://:9092,CONTROLLER://:9093" : "EXTERNAL://:9092");
        assert.equal(env.KAFKA_ADVERTISED_LISTENERS, combined ? `EXTERNAL://${ip}:9092,CONTROLLER://${ip}:9093` : `EXTERNAL://${ip}:9092`);
        // A combined node answers on its controller listener before a quorum exists; a broker-only node once it serves.
        assert.equal(env.KAFKA_HEALTHCHECK_PORT, combined ? "9093" : "9092");
        assert.equal(env.KAFKA_REPLICATION_FACTOR, "3");
        assert.equal(env.KAFKA_MIN_INSYNC_REPLICAS, "2");
        assert.equal(env.KAFKA_CLUSTER_ID, KAFKA_CLUSTER_IDS.cluster);
        assert.notEqual(env.KAFKA_DATA_VOLUME, "kafka_kafka-data", "a cluster must not start on the single broker's volume");
        assert.equal(env.KAFKA_BROKER_RACK, env.HOST_ZONE);
        assert.equal(env.COMPOSE_PROFILES, i === 0 ? "first-member" : "");
      }
    });
  }

  it("compose passes them to the broker, every internal topic replicated as configured", () => {
    const env = envs(3)[1];
    const broker = Object.fromEntries(Object.entries(loadCompose("kafka").services.kafka.environment as Record<string, string>)
      .map(([key, value]) => [key, interpolate(String(value), env)]));
    assert.equal(broker.CLUSTER_ID, env.KAFKA_CLUSTER_ID);
    for (const key of ["KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_BROKER_RACK", "KAFKA_MIN_INSYNC_REPLICAS"]) {
      assert.equal(broker[key], env[key], key);
    }
    for (const key of ["OFFSETS_TOPIC", "TRANSACTION_STATE_LOG", "SHARE_COORDINATOR_STATE_TOPIC", "DEFAULT"]) {
      assert.equal(broker[`KAFKA_${key}_REPLICATION_FACTOR`], "3", key);
    }
    assert.equal(broker.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR, "2");
    assert.equal(broker.KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR, "2");
    assert.equal(broker.KAFKA_INTER_BROKER_LISTENER_NAME, "EXTERNAL", "replication goes over the private IP");
    assert.equal(interpolate(String((loadCompose("kafka").volumes?.["kafka-data"] as { name: string }).name), env), env.KAFKA_DATA_VOLUME);
  });

  it("runs the topic setup and the exporter on the first member only", () => {
    const services = loadCompose("kafka").services as Record<string, { profiles?: string[] }>;
    assert.deepEqual(services["kafka-setup"].profiles, ["first-member"]);
    assert.deepEqual(services["kafka-exporter"].profiles, ["first-member"]);
    assert.equal(services.kafka.profiles, undefined);
  });

  it("the healthcheck dials the port of the member's .env", () => {
    assert.ok(healthcheckCommand("kafka", "kafka").join(" ").includes("/dev/tcp/127.0.0.1/9092"));
    assert.ok(String(loadCompose("kafka").services.kafka.healthcheck?.test).includes("/dev/tcp/127.0.0.1/${KAFKA_HEALTHCHECK_PORT}"));
  });
});
