import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../components/platform/repo";
import { datasets, kafkaTopic } from "../../components/platform/naming";
import { SAMPLE_FACTS, sampleIpOf, sampleEnv } from "../helpers/sample-facts";
import { FluentBitConfig, parseConfig, prop } from "../helpers/fluent-bit";


/** The ingest endpoint (web host): the apps topic's producer. */
const INGEST = "hosts/web/ingest/fluent-bit.yaml";

function read(file: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
}

/** `${VAR}` replaced the way compose and Fluent Bit do it; a variable missing from `.env` is an error. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    assert.ok(name in env, `\${${name}} is not in the .env`);
    return env[name];
  });
}

function topicList(value: unknown, env: Record<string, string>): string[] {
  return interpolate(String(value), env).split(",").map((t) => t.trim()).sort();
}

function kafkaPlugins(config: FluentBitConfig, kind: "inputs" | "outputs") {
  return (config.pipeline?.[kind] ?? []).filter((p) => String(p.name).toLowerCase() === "kafka");
}

const kafkaSetup = () => {
  const compose = parse(read("hosts/kafka/compose.yaml")) as { services: Record<string, { environment: Record<string, string> }> };
  return compose.services["kafka-setup"].environment;
};

describe("Kafka topics: produced = created = consumed", () => {
  const topics = datasets(SAMPLE_FACTS.environment);
  const expected = Object.values(topics).sort();

  /** The ingest endpoint's config; fails naming it while it does not exist. */
  const ingestConfig = (): FluentBitConfig => {
    assert.ok(fs.existsSync(path.join(REPO_ROOT, INGEST)), `${INGEST} (the ingest endpoint, producer of the apps topic) is missing`);
    return parseConfig(read(INGEST));
  };
  /** Every topic each producer writes: the forwarder and the ingest endpoint from their configs (the web .env). */
  const producedBy = (): Record<string, string[]> => ({
    forwarder: kafkaPlugins(parseConfig(read("forwarder/fluent-bit.yaml")), "outputs").flatMap((o) => topicList(prop(o, "topics"), sampleEnv("web"))),
    ingest: kafkaPlugins(ingestConfig(), "outputs").flatMap((o) => topicList(prop(o, "topics"), sampleEnv("web"))),
    // components/cloudtrail/cloudtrail.ts gives the Lambda this one (test/unit/cloudtrail.test.ts).
    "cloudtrail Lambda": [topics.cloudtrailTopic],
  });

  it("the forwarder produces to both log topics", () => {
    assert.deepEqual(producedBy().forwarder.sort(), [topics.containersTopic, topics.gatewayTopic].sort());
  });

  it("the ingest endpoint produces to the apps topic only, from its kafka_apps output", () => {
    const outputs = kafkaPlugins(ingestConfig(), "outputs");
    assert.deepEqual(outputs.map((o) => prop(o, "alias")), ["kafka_apps"]);
    assert.deepEqual(topicList(prop(outputs[0], "topics"), sampleEnv("web")), [topics.appsTopic]);
  });

  it("every topic is produced by one producer, created by kafka-setup and consumed by the aggregator", () => {
    const produced = Object.values(producedBy()).flat();
    assert.deepEqual([...produced].sort(), expected, "produced");
    assert.equal(new Set(produced).size, produced.length, "no topic has two producers");
    assert.deepEqual(topicList(kafkaSetup().KAFKA_TOPICS, sampleEnv("kafka")), expected, "created");
    const [input] = kafkaPlugins(parseConfig(read("hosts/logging/fluent-bit/fluent-bit.yaml")), "inputs");
    assert.deepEqual(topicList(prop(input, "topics"), sampleEnv("logging")), expected, "consumed");
  });

  it("kafka-setup creates exactly those topics, the CloudTrail one whether the module is on or not, the apps one always", () => {
    assert.deepEqual(topicList(kafkaSetup().KAFKA_TOPICS, sampleEnv("kafka")), expected);
    assert.ok(expected.includes(topics.cloudtrailTopic));
    assert.ok(expected.includes(topics.appsTopic));
    assert.match(read("hosts/kafka/setup/create-topics.sh"), /read -r -a topics <<<"\$KAFKA_TOPICS"/);
  });

  it("the aggregator consumes exactly those topics, with the shared consumer group", () => {
    const inputs = kafkaPlugins(parseConfig(read("hosts/logging/fluent-bit/fluent-bit.yaml")), "inputs");
    assert.equal(inputs.length, 1);
    assert.deepEqual(topicList(prop(inputs[0], "topics"), sampleEnv("logging")), expected);
    assert.equal(interpolate(String(prop(inputs[0], "group_id")), sampleEnv("logging")), sampleEnv("logging").KAFKA_CONSUMER_GROUP);
    assert.equal(prop(inputs[0], "rdkafka.auto.offset.reset"), "earliest");
  });

  it("every host reaches the broker the kafka host advertises", () => {
    const advertised = `${sampleIpOf("kafka")}:9092`;
    assert.equal(sampleEnv("web").KAFKA_BOOTSTRAP_SERVERS, advertised);
    assert.equal(sampleEnv("logging").KAFKA_BOOTSTRAP_SERVERS, advertised);
    const kafka = (parse(read("hosts/kafka/compose.yaml")) as { services: Record<string, { environment: Record<string, string> }> })
      .services.kafka.environment;
    assert.match(interpolate(kafka.KAFKA_ADVERTISED_LISTENERS, sampleEnv("kafka")), new RegExp(`://${advertised.replace(/\./g, "\\.")}(,|$)`));
  });

  it("topic names follow <business>.<dataset>.<data_type>.<environment>.<format>", () => {
    assert.deepEqual(expected, [
      kafkaTopic("apps", "logs", "dev"), kafkaTopic("cloudtrail", "events", "dev"), kafkaTopic("containers", "logs", "dev"), kafkaTopic("gateway", "access", "dev"),
    ]);
    assert.equal(topics.cloudtrailTopic, "platform.cloudtrail.events.dev.json", "the name the CloudTrail Lambda is given");
    assert.equal(topics.appsTopic, "platform.apps.logs.dev.json", "the users' services' topic the issue names");
    for (const topic of expected) assert.match(topic, /^platform\.[a-z]+\.[a-z]+\.dev\.json$/);
  });

  it("retention is at least 24 h and reaches the topic config", () => {
    const env = sampleEnv("kafka");
    const hours = Number(interpolate(kafkaSetup().KAFKA_RETENTION_HOURS, env));
    assert.ok(hours >= 24, `retention ${hours}h`);
    const script = read("hosts/kafka/setup/create-topics.sh");
    assert.match(script, /KAFKA_RETENTION_HOURS < 24/, "the setup refuses a shorter retention");
    assert.match(script, /retention_ms=\$\(\( KAFKA_RETENTION_HOURS \* 3600 \* 1000 \)\)/);
    assert.match(script, /--config "retention\.ms=\$retention_ms"/);
    assert.equal(interpolate(kafkaSetup().KAFKA_PARTITIONS, env), String(SAMPLE_FACTS.kafkaPartitions));
  });
});
