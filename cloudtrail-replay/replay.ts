import { DeleteMessageCommand, Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";

/** Where the failures wait and what replays them: the stack output `cloudtrail`. */
export interface ReplayTarget {
  region: string;
  functionName: string;
  failureQueueUrl: string;
}

export interface ReplayOptions {
  /** At most this many messages are received in one run. */
  max: number;
  /** Long polling of each receive (SQS asks every server of the queue, so an empty answer means an empty queue). */
  waitSeconds: number;
  /** How long a received message stays hidden: one left in the queue reappears for the next run after this. */
  visibilitySeconds: number;
}

export const DEFAULT_REPLAY_OPTIONS: ReplayOptions = { max: 100, waitSeconds: 2, visibilitySeconds: 300 };

export interface ReplayCounts {
  /** Messages received (at most `max`). */
  received: number;
  /** Re-invoked, accepted by Lambda, and deleted from the queue. */
  replayed: number;
  /** Lambda did not accept the invocation: the message stays in the queue. */
  invokeFailed: number;
  /** Not an invocation record of this function: left in the queue, never invoked. */
  unreadable: number;
  /** Accepted by Lambda but not deleted: it stays in the queue and a later run replays it again. */
  deleteFailed: number;
  /** Why the run stopped before the queue was empty or `max` reached: a receive that failed (credentials, the queue gone). */
  receiveError?: string;
}

/** What a message of the queue yields: the event to replay, or why it cannot be replayed. */
export type ParsedRecord =
  | { ok: true; payload: string; condition?: string; error?: string; objectKeys: string[] }
  | { ok: false; problem: string };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Reads the body of one message: a Lambda invocation record (Lambda developer guide, "Capturing records of Lambda
 * asynchronous invocations": version, timestamp, requestContext {requestId, functionArn, condition,
 * approximateInvokeCount}, requestPayload, responseContext, responsePayload). Its requestPayload is the S3 event the
 * function failed on; it is replayed only when the record names this function (functionArn `...:function:<name>[:qualifier]`).
 */
export function parseFailureRecord(body: string | undefined, functionName: string): ParsedRecord {
  if (body === undefined) return { ok: false, problem: "the message has no body" };
  let record: unknown;
  try {
    record = JSON.parse(body);
  } catch {
    return { ok: false, problem: `the body is not JSON: ${body.slice(0, 80)}` };
  }
  if (!isObject(record)) return { ok: false, problem: "the body is not a JSON object" };
  const context = record.requestContext;
  if (!isObject(context) || typeof context.functionArn !== "string") return { ok: false, problem: "no requestContext.functionArn: not a Lambda invocation record" };
  const recordedFunction = context.functionArn.split(":")[6];
  if (recordedFunction !== functionName) return { ok: false, problem: `a record of function ${recordedFunction ?? context.functionArn}, not of ${functionName}` };
  if (!isObject(record.requestPayload)) return { ok: false, problem: "no requestPayload object (the event) in the record" };
  const response = record.responsePayload;
  const records = record.requestPayload.Records;
  const objectKeys = Array.isArray(records)
    ? records.map((r: unknown) => (isObject(r) && isObject(r.s3) && isObject(r.s3.object) && typeof r.s3.object.key === "string" ? r.s3.object.key : undefined))
      .filter((key): key is string => key !== undefined)
    : [];
  return {
    ok: true,
    payload: JSON.stringify(record.requestPayload),
    condition: typeof context.condition === "string" ? context.condition : undefined,
    error: isObject(response) && typeof response.errorMessage === "string" ? response.errorMessage : undefined,
    objectKeys,
  };
}

export interface ReplayClients {
  sqs: Pick<SQSClient, "send">;
  lambda: Pick<LambdaClient, "send">;
}

/**
 * Receives the queue's messages, at most `max`, and re-invokes the function asynchronously (InvocationType Event) with
 * each record's requestPayload; a message is deleted only once Lambda accepted its invocation (202). Stops when a
 * receive finds no message it has not yet seen, or after `max`. A message it could not replay stays in the queue
 * (hidden for `visibilitySeconds`), so the alarm stays on. Replaying twice is harmless: the indexer writes a record
 * under its eventID.
 */
export async function replayFailures(target: ReplayTarget, clients: ReplayClients, options: ReplayOptions, print: (line: string) => void): Promise<ReplayCounts> {
  const counts: ReplayCounts = { received: 0, replayed: 0, invokeFailed: 0, unreadable: 0, deleteFailed: 0 };
  const seen = new Set<string>();
  while (counts.received < options.max) {
    let answer;
    try {
      answer = await clients.sqs.send(new ReceiveMessageCommand({
        QueueUrl: target.failureQueueUrl,
        MaxNumberOfMessages: Math.min(10, options.max - counts.received),
        WaitTimeSeconds: options.waitSeconds,
        VisibilityTimeout: options.visibilitySeconds,
      }));
    } catch (err) {
      counts.receiveError = (err as Error).message;
      print(`could not receive from ${target.failureQueueUrl}: ${counts.receiveError}`);
      break;
    }
    const fresh = (answer.Messages ?? []).filter((m) => m.MessageId === undefined || !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const message of fresh.slice(0, options.max - counts.received)) {
      if (message.MessageId !== undefined) seen.add(message.MessageId);
      counts.received += 1;
      await replayOne(message, target, clients, counts, print);
    }
  }
  return counts;
}

async function replayOne(message: Message, target: ReplayTarget, clients: ReplayClients, counts: ReplayCounts, print: (line: string) => void): Promise<void> {
  const id = message.MessageId ?? "(no id)";
  const parsed = parseFailureRecord(message.Body, target.functionName);
  if (!parsed.ok) {
    counts.unreadable += 1;
    print(`left ${id}: ${parsed.problem}`);
    return;
  }
  const what = parsed.objectKeys.length > 0 ? parsed.objectKeys.join(", ") : id;
  try {
    const result = await clients.lambda.send(new InvokeCommand({
      FunctionName: target.functionName,
      InvocationType: "Event",
      Payload: Buffer.from(parsed.payload),
    }));
    if (result.StatusCode !== 202) throw new Error(`Lambda answered ${String(result.StatusCode)}${result.FunctionError ? ` (${result.FunctionError})` : ""}, not 202`);
  } catch (err) {
    counts.invokeFailed += 1;
    print(`left ${what}: the invocation was not accepted: ${(err as Error).message}`);
    return;
  }
  try {
    await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: target.failureQueueUrl, ReceiptHandle: message.ReceiptHandle }));
  } catch (err) {
    counts.deleteFailed += 1;
    print(`replayed ${what} but could not delete its message (a later run replays it again): ${(err as Error).message}`);
    return;
  }
  counts.replayed += 1;
  print(`replayed ${what}${parsed.condition ? ` (was ${parsed.condition}${parsed.error ? `: ${parsed.error}` : ""})` : ""}`);
}

/** One line for the end of a run. */
export function summary(counts: ReplayCounts): string {
  return `${counts.received} received, ${counts.replayed} replayed and deleted, ${counts.invokeFailed} not accepted by Lambda (left), ` +
    `${counts.unreadable} unreadable (left), ${counts.deleteFailed} replayed but not deleted` +
    (counts.receiveError ? `; stopped early, a receive failed: ${counts.receiveError}` : "");
}
