import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import http from "node:http";
import { Admin, Consumer, MessagesStreamModes, ProduceAcks, stringDeserializers } from "@platformatic/kafka";
import { bundleEnv } from "../../components/bundles/env";
import { kafkaTopic } from "../../components/platform/naming";
import { createHandler, kafkaProducer } from "../../lambdas/cloudtrail-to-kafka/src/handler";
// The function's own SDK, as it ships in the bundle (the root package does not depend on it).
import { S3Client } from "../../lambdas/cloudtrail-to-kafka/node_modules/@aws-sdk/client-s3";
import { BUCKET, CloudTrailRecord, SAMPLE_RECORDS, logFile, logFileKey, manyRecords, s3Event } from "../fixtures/cloudtrail/log-files";
import { KafkaCluster, kafkaServiceEnvironment, loopbackFacts } from "../helpers/kafka-cluster";
import { freePort } from "../helpers/local-servers";

/**
 * The handler against a real broker (the kafka bundle's, through the harness) and the real S3 client of the
 * function talking to a stand-in S3 endpoint on loopback that serves gzipped log files (path-style GetObject).
 */
/** The start event of @platformatic/kafka's `producer:sends` tracing channel (its dist/diagnostic.js). */
const SENDS_CHANNEL = "tracing:plt:kafka:producer:sends:start";

describe("cloudtrail-to-kafka handler: a real broker", function () {
  this.timeout(180_000);
  const files = new Map<string, Buffer>();
  let cluster: KafkaCluster | undefined;
  let admin: Admin;
  let s3Server: http.Server;
  let s3: S3Client;

  before(async () => {
    const port = await freePort();
    s3Server = http.createServer((request, response) => {
      const file = request.method === "GET" ? files.get(decodeURIComponent((request.url ?? "").split("?")[0])) : undefined;
      if (!file) {
        response.writeHead(404, { "content-type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
        return;
      }
      response.writeHead(200, { "content-type": "application/x-gzip", "content-length": file.length }).end(file);
    });
    await new Promise<void>((resolve) => s3Server.listen(port, "127.0.0.1", resolve));
    s3 = new S3Client({
      endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, region: "us-east-1",
      credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "example" },
    });
    const brokerEnv = kafkaServiceEnvironment("kafka", bundleEnv({ role: "kafka", index: 0, name: "kafka" }, loopbackFacts()));
    cluster = await KafkaCluster.start([{ ip: "127.0.0.1", environment: brokerEnv }]);
    admin = new Admin({ clientId: "cloudtrail-test", bootstrapBrokers: cluster.bootstrap() });
  });
  after(async () => {
    s3?.destroy();
    await new Promise((resolve) => (s3Server ? s3Server.close(resolve) : resolve(undefined)));
    await admin?.close();
    await cluster?.stop();
  });

  const started = (): KafkaCluster => {
    assert.ok(cluster, "the broker did not start");
    return cluster;
  };

  function serve(key: string, records: unknown[]): string {
    files.set(`/${BUCKET}/${key}`, logFile(records));
    return key;
  }

  /** Every message of `topic`, read from the start until `expected` have arrived (bounded in time). */
  async function consumeAll(topic: string, expected: number): Promise<{ key: string; value: string; timestamp: bigint }[]> {
    const consumer = new Consumer({ groupId: `cloudtrail-test-${topic}`, clientId: "cloudtrail-test-consumer", bootstrapBrokers: started().bootstrap(), deserializers: stringDeserializers });
    const messages: { key: string; value: string; timestamp: bigint }[] = [];
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, maxWaitTime: 500 });
      const deadline = setTimeout(() => void stream.close(), 60_000);
      try {
        for await (const message of stream) {
          messages.push({ key: message.key, value: message.value, timestamp: message.timestamp });
          if (messages.length === expected) break;
        }
      } finally {
        clearTimeout(deadline);
      }
    } finally {
      await consumer.close(true);
    }
    return messages;
  }

  it("produces every record of the files of an event, keyed by eventID, with eventTime as the timestamp", async () => {
    const topic = kafkaTopic("cloudtrail", "events", "integration");
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
    const huge: CloudTrailRecord = { ...SAMPLE_RECORDS[2], eventID: "9e8d7c6b-5a49-4837-8261-huge00000002", requestParameters: { policy: "p".repeat(300_000) } };
    const records = [SAMPLE_RECORDS, [...manyRecords(1500), huge]];
    const keys = records.map((fileRecords, i) => serve(logFileKey(`file${i}`), fileRecords));
    // What each send asks of the broker, as the client writes it into the Produce request (its tracing channel).
    const acks: number[] = [];
    const onSend = (context: unknown): void => void acks.push((context as { options: { acks: number } }).options.acks);
    diagnostics.subscribe(SENDS_CHANNEL, onSend);
    try {
      await createHandler({ s3, connectProducer: () => kafkaProducer(started().bootstrap(), topic) })(s3Event(...keys));
    } finally {
      diagnostics.unsubscribe(SENDS_CHANNEL, onSend);
    }
    assert.ok(acks.length >= 3, `${acks.length} sends`);
    assert.deepEqual([...new Set(acks)], [ProduceAcks.ALL], "acks of every send");

    const expected = records.flat();
    const messages = await consumeAll(topic, expected.length);
    assert.equal(messages.length, expected.length, "messages in the topic");
    const byKey = new Map(messages.map((message) => [message.key, message]));
    assert.equal(byKey.size, expected.length, "distinct keys: each record once");
    for (const record of expected) {
      const message = byKey.get(record.eventID);
      assert.ok(message, `no message keyed ${record.eventID}`);
      assert.deepEqual(JSON.parse(message.value), record, `${record.eventID}: value`);
      assert.equal(message.timestamp, BigInt(Date.parse(record.eventTime)), `${record.eventID}: timestamp`);
    }
  });

  it("fails the invocation when the broker is down: nothing acknowledged", async () => {
    const topic = kafkaTopic("cloudtrail", "events", "integration");
    const key = serve(logFileKey("broker-down"), SAMPLE_RECORDS);
    const bootstrap = started().bootstrap();
    await started().stop();
    const errors: string[] = [];
    const { error } = console;
    console.error = (line: string) => errors.push(line);
    try {
      await assert.rejects(
        createHandler({ s3, connectProducer: () => kafkaProducer(bootstrap, topic) })(s3Event(key)),
        /producing s3:\/\/platform-dev-cloudtrail\/.*broker-down\.json\.gz failed: 0 records acknowledged/,
      );
    } finally {
      console.error = error;
    }
    assert.equal(errors.length, 1, errors.join("\n"));
  });
});
