/**
 * CloudTrail log files -> Kafka. S3 notifies this function of each new log file; the function reads the gzipped
 * file, streams its `Records` array one record at a time (a file can hold thousands) and produces each record to
 * KAFKA_TOPIC with acks=all: key = eventID, value = the record's JSON, message timestamp = eventTime. Any record not
 * acknowledged fails the invocation, so Lambda retries the file; CloudTrail delivers at least once anyway and the
 * aggregator writes each record with `_id` = eventID, so a file produced twice rewrites the same documents.
 */
// An import cannot load a file of ambient module declarations; this reference is what includes it.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./stream-json-subpaths.d.ts" />
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import chain from "stream-chain";
import { parser } from "stream-json";
import { pick } from "stream-json/filters/pick.js";
import { streamArray } from "stream-json/streamers/stream-array.js";

/** The part of an S3 event notification the function reads. */
export interface S3Event {
  Records: { s3: { bucket: { name: string }; object: { key: string } } }[];
}

/** One CloudTrail record as a Kafka message (the topic is the producer's). */
export interface CloudTrailMessage {
  key: string;
  value: string;
  timestamp: bigint;
}

/** Resolves once every message is acknowledged by all in-sync replicas; rejects otherwise. */
export interface RecordProducer {
  produce(messages: CloudTrailMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** What the handler talks to: injectable, so tests give it a stand-in S3 and producer. */
export interface Dependencies {
  s3: Pick<S3Client, "send">;
  connectProducer: () => RecordProducer;
}

/**
 * A produce request stays well under the broker's default message.max.bytes (1 MiB), which bounds a record batch;
 * the count bound keeps the memory of one batch small when records are tiny.
 */
const BATCH_MAX_BYTES = 512 * 1024;
const BATCH_MAX_RECORDS = 500;
const LOG_PREFIX = "cloudtrail-to-kafka:";

/** CloudTrail writes its hourly digest files (signatures, not events) under `CloudTrail-Digest/`. */
export function isDigestFile(key: string): boolean {
  return key.includes("CloudTrail-Digest");
}

/** S3 notifications carry the key URL-encoded, with spaces as '+'. */
function objectKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, " "));
}

/** A record the broker did not acknowledge: Kafka's fault, not the file's. */
class ProduceError extends Error {}

/** The Kafka message of one record, or why the record is not a CloudTrail event. */
function toMessage(record: unknown, index: number): CloudTrailMessage {
  const { eventID, eventTime } = (typeof record === "object" && record !== null ? record : {}) as Record<string, unknown>;
  if (typeof eventID !== "string" || eventID === "") {
    throw new Error(`Records[${index}].eventID is ${JSON.stringify(eventID)}, expected a non-empty string`);
  }
  const time = typeof eventTime === "string" ? Date.parse(eventTime) : NaN;
  if (Number.isNaN(time)) {
    throw new Error(`Records[${index}].eventTime is ${JSON.stringify(eventTime)}, expected an ISO 8601 time`);
  }
  return { key: eventID, value: JSON.stringify(record), timestamp: BigInt(time) };
}

/** Streams the gzipped log file's `Records` to the producer in bounded batches; returns how many were produced. */
async function produceFile(body: Readable, producer: RecordProducer): Promise<number> {
  let recordsArraySeen = false;
  let produced = 0;
  // When the last stage throws, pipeline() rejects with the AbortError it destroys the other stages with.
  let lastStageError: unknown;
  await pipeline(
    body,
    createGunzip(),
    // One stream for the three stages: stream-chain runs them as plain functions over each token, several times
    // faster than a stream per stage.
    chain([
      parser({ streamValues: false }),
      pick({
        filter: (stack) => {
          const isRecords = stack.length === 1 && stack[0] === "Records";
          recordsArraySeen ||= isRecords;
          return isRecords;
        },
      }),
      streamArray(),
    ]),
    async function (items: AsyncIterable<{ key: number; value: unknown }>) {
      let batch: CloudTrailMessage[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        try {
          await producer.produce(batch);
        } catch (error) {
          throw new ProduceError(`${produced} records acknowledged, then: ${(error as Error).message}`, { cause: error });
        }
        produced += batch.length;
        batch = [];
        batchBytes = 0;
      };
      try {
        for await (const { key, value } of items) {
          const message = toMessage(value, key);
          const bytes = Buffer.byteLength(message.key) + Buffer.byteLength(message.value);
          if (batch.length > 0 && (batchBytes + bytes > BATCH_MAX_BYTES || batch.length === BATCH_MAX_RECORDS)) await flush();
          batch.push(message);
          batchBytes += bytes;
        }
        await flush();
      } catch (error) {
        lastStageError = error;
        throw error;
      }
    },
  ).catch((error: unknown) => {
    throw lastStageError ?? error;
  });
  if (!recordsArraySeen) throw new Error("it has no top-level \"Records\" array");
  return produced;
}

async function processObject(bucket: string, key: string, dependencies: Dependencies, producer: () => RecordProducer): Promise<void> {
  const location = `s3://${bucket}/${key}`;
  if (isDigestFile(key)) {
    console.log(`${LOG_PREFIX} skipped digest file ${location}`);
    return;
  }
  const { Body } = await dependencies.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  // In Node the SDK's body is an http.IncomingMessage, a Readable.
  if (!(Body instanceof Readable)) throw new Error(`${LOG_PREFIX} ${location}: GetObject returned no readable body`);
  let readError: unknown;
  Body.once("error", (error) => (readError = error));
  try {
    const produced = await produceFile(Body, producer());
    console.log(`${LOG_PREFIX} produced ${produced} records of ${location}`);
  } catch (error) {
    // Anything but the producer and the S3 read is gunzip, the JSON parser or a record check: the file's fault.
    const reason = error instanceof ProduceError ? `producing ${location} failed`
      : error === readError ? `reading ${location} failed` : `malformed CloudTrail log file ${location}`;
    console.error(`${LOG_PREFIX} ${reason}: ${(error as Error).message}`);
    throw new Error(`${reason}: ${(error as Error).message}`, { cause: error });
  }
}

/** The handler over the given dependencies: every file of the event is tried; any failure fails the invocation. */
export function createHandler(dependencies: Dependencies): (event: S3Event) => Promise<void> {
  return async (event) => {
    let producer: RecordProducer | undefined;
    const connected = (): RecordProducer => (producer ??= dependencies.connectProducer());
    const failures: string[] = [];
    try {
      for (const record of event.Records ?? []) {
        const bucket = record.s3.bucket.name;
        const key = objectKey(record.s3.object.key);
        try {
          await processObject(bucket, key, dependencies, connected);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    } finally {
      await producer?.close();
    }
    if (failures.length > 0) throw new Error(`${LOG_PREFIX} ${failures.length} file(s) failed: ${failures.join("; ")}`);
  };
}

/** Reads the function's settings from its environment, failing with the variable, its value and what is expected. */
export function settingsFromEnvironment(env: NodeJS.ProcessEnv): { bootstrapBrokers: string[]; topic: string } {
  const bootstrap = env.KAFKA_BOOTSTRAP_SERVERS ?? "";
  const bootstrapBrokers = bootstrap.split(",").map((broker) => broker.trim()).filter((broker) => broker !== "");
  if (bootstrapBrokers.length === 0 || bootstrapBrokers.some((broker) => !/^[^\s:]+:\d+$/.test(broker))) {
    throw new Error(`KAFKA_BOOTSTRAP_SERVERS is ${JSON.stringify(bootstrap)}, expected comma-separated host:port`);
  }
  const topic = env.KAFKA_TOPIC ?? "";
  if (!/^[A-Za-z0-9._-]+$/.test(topic)) {
    throw new Error(`KAFKA_TOPIC is ${JSON.stringify(topic)}, expected a Kafka topic name`);
  }
  return { bootstrapBrokers, topic };
}

/** A @platformatic/kafka producer for one invocation. */
export function kafkaProducer(bootstrapBrokers: string[], topic: string): RecordProducer {
  const producer = new Producer({ clientId: "cloudtrail-to-kafka", bootstrapBrokers, serializers: stringSerializers });
  return {
    async produce(messages) {
      // Per send: 1.35.0 sends a non-idempotent producer's records with acks=1 whatever its constructor says. A
      // partition's error code, or no answer after the client's retries, rejects the send.
      await producer.send({
        acks: ProduceAcks.ALL,
        messages: messages.map(({ key, value, timestamp }) => ({ topic, key, value, timestamp })),
      });
    },
    close: () => producer.close(),
  };
}

/** The Lambda entry point (`index.handler`): the real S3 and Kafka, settings from the environment. */
export const handler = async (event: S3Event): Promise<void> => {
  const { bootstrapBrokers, topic } = settingsFromEnvironment(process.env);
  return createHandler({ s3: new S3Client({}), connectProducer: () => kafkaProducer(bootstrapBrokers, topic) })(event);
};
