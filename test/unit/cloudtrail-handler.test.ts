import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import {
  CloudTrailMessage, Dependencies, RecordProducer, createHandler, settingsFromEnvironment,
} from "../../lambdas/cloudtrail-to-kafka/src/handler";
import {
  BUCKET, CloudTrailRecord, DIGEST_KEY, SAMPLE_RECORDS, logFile, logFileKey, manyRecords, s3Event,
} from "../fixtures/cloudtrail/log-files";

/** A stand-in S3 serving `files` by key, in small chunks, counting the bytes the handler has pulled. */
class StandInS3 {
  readonly requests: { Bucket: string; Key: string }[] = [];
  bytesPulled = 0;
  constructor(private readonly files: Record<string, Buffer>) {}

  async send(command: { input: { Bucket: string; Key: string } }): Promise<{ Body: Readable }> {
    this.requests.push(command.input);
    const file = this.files[command.input.Key];
    if (!file) throw new Error(`NoSuchKey: ${command.input.Key}`);
    const chunks = function* (this: StandInS3) {
      for (let offset = 0; offset < file.length; offset += 1024) {
        const chunk = file.subarray(offset, offset + 1024);
        this.bytesPulled += chunk.length;
        yield chunk;
      }
    };
    return { Body: Readable.from(chunks.call(this), { objectMode: false }) };
  }
}

/** A stand-in producer: records each batch; `failBatch` (1-based) rejects that batch as an unacknowledged send. */
class StandInProducer implements RecordProducer {
  readonly batches: CloudTrailMessage[][] = [];
  /** Bytes the S3 stand-in had served when the first batch arrived. */
  bytesPulledAtFirstBatch?: number;
  closed = 0;
  constructor(private readonly s3?: StandInS3, private readonly failBatch?: number) {}

  async produce(messages: CloudTrailMessage[]): Promise<void> {
    this.bytesPulledAtFirstBatch ??= this.s3?.bytesPulled;
    if (this.batches.length + 1 === this.failBatch) {
      throw new Error("Producing messages failed. NOT_ENOUGH_REPLICAS_AFTER_APPEND");
    }
    this.batches.push(messages);
  }

  async close(): Promise<void> {
    this.closed++;
  }

  get messages(): CloudTrailMessage[] {
    return this.batches.flat();
  }
}

/** Runs `body` with console.log and console.error collected instead of printed. */
async function withConsole<T>(body: (lines: { log: string[]; error: string[] }) => Promise<T>): Promise<{ lines: { log: string[]; error: string[] }; result: PromiseSettledResult<T> }> {
  const lines = { log: [] as string[], error: [] as string[] };
  const { log, error } = console;
  console.log = (...args: unknown[]) => lines.log.push(args.join(" "));
  console.error = (...args: unknown[]) => lines.error.push(args.join(" "));
  try {
    const [result] = await Promise.allSettled([body(lines)]);
    return { lines, result };
  } finally {
    Object.assign(console, { log, error });
  }
}

/** One invocation for an event naming `keys`, S3 serving `files`; the producer fails batch `failBatch` if given. */
async function invoke(files: Record<string, Buffer>, keys: string[], failBatch?: number) {
  const s3 = new StandInS3(files);
  const producer = new StandInProducer(s3, failBatch);
  let connections = 0;
  const handler = createHandler({ s3: s3 as unknown as Dependencies["s3"], connectProducer: () => (connections++, producer) });
  const outcome = await withConsole(() => handler(s3Event(...keys)));
  return { s3, producer, connections, ...outcome };
}

function assertFulfilled(result: PromiseSettledResult<unknown>): void {
  assert.equal(result.status, "fulfilled", String((result as PromiseRejectedResult).reason));
}

function rejection(result: PromiseSettledResult<unknown>): string {
  assert.equal(result.status, "rejected", "the invocation should fail");
  return ((result as PromiseRejectedResult).reason as Error).message;
}

function assertProducedOnce(producer: StandInProducer, records: CloudTrailRecord[]): void {
  const keys = producer.messages.map((message) => message.key);
  assert.equal(keys.length, records.length, "messages produced");
  assert.deepEqual(new Set(keys), new Set(records.map((record) => record.eventID)), "one message per eventID");
  const byKey = new Map(producer.messages.map((message) => [message.key, message]));
  for (const record of records) {
    const message = byKey.get(record.eventID);
    assert.ok(message, record.eventID);
    assert.deepEqual(JSON.parse(message.value), record, `${record.eventID}: the value is the record`);
    assert.equal(message.timestamp, BigInt(Date.parse(record.eventTime)), `${record.eventID}: the timestamp is eventTime`);
  }
}

describe("cloudtrail-to-kafka handler (stand-in S3 and producer)", () => {
  it("produces every record of a gzipped log file once, keyed by eventID, timestamped with eventTime", async () => {
    const key = logFileKey();
    const { s3, producer, lines, result } = await invoke({ [key]: logFile(SAMPLE_RECORDS) }, [key]);
    assertFulfilled(result);
    assert.deepEqual(s3.requests, [{ Bucket: BUCKET, Key: key }]);
    assertProducedOnce(producer, SAMPLE_RECORDS);
    assert.deepEqual(lines.log, [`cloudtrail-to-kafka: produced 4 records of s3://${BUCKET}/${key}`]);
    assert.equal(producer.closed, 1, "the producer is closed at the end of the invocation");
  });

  it("streams a file of thousands of records in bounded batches, producing before the file is read to its end", async () => {
    const records = manyRecords(3000);
    const file = logFile(records);
    const key = logFileKey("big");
    const { producer, result } = await invoke({ [key]: file }, [key]);
    assertFulfilled(result);
    assertProducedOnce(producer, records);
    assert.ok(producer.batches.length >= 6, `${producer.batches.length} batches`);
    for (const batch of producer.batches) assert.ok(batch.length <= 500, `a batch of ${batch.length} records`);
    assert.ok((producer.bytesPulledAtFirstBatch ?? Infinity) < file.length / 2,
      `the first batch came after ${producer.bytesPulledAtFirstBatch} of ${file.length} bytes`);
  });

  it("caps a batch at 500 records when the records are small", async () => {
    const records = manyRecords(1200).map(({ eventID, eventTime, eventName }) => ({ eventID, eventTime, eventName }));
    const key = logFileKey("small");
    const { producer, result } = await invoke({ [key]: logFile(records) }, [key]);
    assertFulfilled(result);
    assertProducedOnce(producer, records);
    assert.deepEqual(producer.batches.map((batch) => batch.length), [500, 500, 200]);
  });

  it("produces a record with huge request parameters intact, in a batch of its own size", async () => {
    const huge: CloudTrailRecord = {
      ...SAMPLE_RECORDS[1],
      eventID: "7d1f2e3c-4b5a-4968-8776-huge00000001",
      requestParameters: { policyDocument: "x".repeat(400_000), tags: Array.from({ length: 2000 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) },
    };
    const records = [...SAMPLE_RECORDS, huge, ...manyRecords(3)];
    const key = logFileKey("huge");
    const { producer, result } = await invoke({ [key]: logFile(records) }, [key]);
    assertFulfilled(result);
    assertProducedOnce(producer, records);
    for (const batch of producer.batches) {
      const bytes = batch.reduce((sum, message) => sum + Buffer.byteLength(message.value) + Buffer.byteLength(message.key), 0);
      assert.ok(batch.length === 1 || bytes <= 512 * 1024, `a batch of ${batch.length} records and ${bytes} bytes`);
    }
  });

  it("accepts a log file with an empty Records array, producing nothing", async () => {
    const key = logFileKey("empty");
    const { producer, lines, result } = await invoke({ [key]: logFile([]) }, [key]);
    assertFulfilled(result);
    assert.deepEqual(producer.batches, []);
    assert.deepEqual(lines.log, [`cloudtrail-to-kafka: produced 0 records of s3://${BUCKET}/${key}`]);
  });

  it("skips a digest file with a log line, without reading it or connecting to Kafka", async () => {
    const { s3, connections, lines, result } = await invoke({}, [DIGEST_KEY]);
    assertFulfilled(result);
    assert.deepEqual(s3.requests, []);
    assert.equal(connections, 0);
    assert.deepEqual(lines.log, [`cloudtrail-to-kafka: skipped digest file s3://${BUCKET}/${DIGEST_KEY}`]);
  });

  it("decodes the URL-encoded key of the notification", async () => {
    const key = "team logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/12/01/111122223333_CloudTrail_us-east-1_20261201T1005Z_x+y.json.gz";
    assert.match(s3Event(key).Records[0].s3.object.key, /^team\+logs\/.*x%2By\.json\.gz$/, "the event carries the key encoded");
    const { s3, result } = await invoke({ [key]: logFile(SAMPLE_RECORDS.slice(0, 1)) }, [key]);
    assertFulfilled(result);
    assert.deepEqual(s3.requests, [{ Bucket: BUCKET, Key: key }]);
  });

  const malformedFiles: [string, Buffer, RegExp][] = [
    ["not gzipped", Buffer.from(JSON.stringify({ Records: SAMPLE_RECORDS })), /incorrect header check/],
    ["truncated", logFile(SAMPLE_RECORDS).subarray(0, 300), /unexpected end of file/],
    ["not JSON", gzipSync("<Error><Code>AccessDenied</Code></Error>"), /Parser cannot parse input/],
    ["without Records", gzipSync(JSON.stringify({ records: SAMPLE_RECORDS })), /no top-level "Records" array/],
    ["with Records not an array", gzipSync(JSON.stringify({ Records: SAMPLE_RECORDS[0] })), /array/i],
    ["with a record without eventID", logFile([SAMPLE_RECORDS[0], { ...SAMPLE_RECORDS[1], eventID: undefined }]), /Records\[1\]\.eventID is undefined, expected a non-empty string/],
    ["with a record with a bad eventTime", logFile([{ ...SAMPLE_RECORDS[0], eventTime: "yesterday" }]), /Records\[0\]\.eventTime is "yesterday", expected an ISO 8601 time/],
  ];
  for (const [what, file, reason] of malformedFiles) {
    it(`fails the invocation on a file ${what}, with a log line naming the bucket and key`, async () => {
      const key = logFileKey("malformed");
      const { producer, lines, result } = await invoke({ [key]: file }, [key]);
      const message = rejection(result);
      const location = `s3://${BUCKET}/${key}`;
      assert.equal(lines.error.length, 1, lines.error.join("\n"));
      assert.ok(lines.error[0].startsWith(`cloudtrail-to-kafka: malformed CloudTrail log file ${location}: `), lines.error[0]);
      assert.match(lines.error[0], reason);
      assert.ok(message.includes(location), message);
      assert.equal(producer.closed, 1);
    });
  }

  it("fails the invocation when a batch is not acknowledged, naming the file and what was acknowledged", async () => {
    const records = manyRecords(1200);
    const key = logFileKey("unacknowledged");
    const { producer, lines, result } = await invoke({ [key]: logFile(records) }, [key], 2);
    const message = rejection(result);
    const acknowledged = /producing s3:\/\/.*unacknowledged\.json\.gz failed: (\d+) records acknowledged, then: .*NOT_ENOUGH_REPLICAS/.exec(message);
    assert.ok(acknowledged, message);
    assert.equal(Number(acknowledged[1]), producer.messages.length, "the records of the first batch");
    assert.ok(producer.messages.length > 0 && producer.messages.length < records.length);
    assert.equal(lines.error.length, 1);
    assert.match(lines.error[0], /^cloudtrail-to-kafka: producing s3:\/\/platform-dev-cloudtrail\/.*unacknowledged\.json\.gz failed/);
    assert.equal(producer.closed, 1);
  });

  it("still produces the other files of the event when one fails, then fails the invocation", async () => {
    const good = logFileKey("good");
    const bad = logFileKey("bad");
    const { producer, result } = await invoke({ [bad]: Buffer.from("not gzip"), [good]: logFile(SAMPLE_RECORDS) }, [bad, DIGEST_KEY, good]);
    assert.match(rejection(result), /1 file\(s\) failed: malformed CloudTrail log file s3:\/\/.*bad\.json\.gz/);
    assertProducedOnce(producer, SAMPLE_RECORDS);
    assert.equal(producer.closed, 1, "one producer for the invocation, closed once");
  });
});

describe("cloudtrail-to-kafka settings", () => {
  it("reads the bootstrap servers and the topic from the environment", () => {
    assert.deepEqual(
      settingsFromEnvironment({ KAFKA_BOOTSTRAP_SERVERS: "10.0.1.10:9092, 10.0.1.11:9092", KAFKA_TOPIC: "platform.cloudtrail.events.dev.json" }),
      { bootstrapBrokers: ["10.0.1.10:9092", "10.0.1.11:9092"], topic: "platform.cloudtrail.events.dev.json" },
    );
  });

  const refused: [Record<string, string>, RegExp][] = [
    [{ KAFKA_TOPIC: "t" }, /^KAFKA_BOOTSTRAP_SERVERS is "", expected comma-separated host:port$/],
    [{ KAFKA_BOOTSTRAP_SERVERS: "10.0.1.10", KAFKA_TOPIC: "t" }, /^KAFKA_BOOTSTRAP_SERVERS is "10.0.1.10", expected comma-separated host:port$/],
    [{ KAFKA_BOOTSTRAP_SERVERS: "10.0.1.10:9092" }, /^KAFKA_TOPIC is "", expected a Kafka topic name$/],
    [{ KAFKA_BOOTSTRAP_SERVERS: "10.0.1.10:9092", KAFKA_TOPIC: "a topic" }, /^KAFKA_TOPIC is "a topic", expected a Kafka topic name$/],
  ];
  for (const [env, expected] of refused) {
    it(`refuses ${JSON.stringify(env)}, naming the variable, its value and what is expected`, () => {
      assert.throws(() => settingsFromEnvironment(env), (error: Error) => expected.test(error.message));
    });
  }
});
