// `npm run cloudtrail:replay` (cloudtrail-replay/) against aws-sdk-client-mock: a stand-in for SQS and Lambda that
// answers each command as the test says and records what was sent; no AWS account is reached.
import { strict as assert } from "assert";
import { mockClient } from "aws-sdk-client-mock";
import { DeleteMessageCommand, Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { DEFAULT_REPLAY_OPTIONS, parseFailureRecord, replayFailures, ReplayTarget } from "../../cloudtrail-replay/replay";
import { main, parseCommandLine, parseReplayOutputs } from "../../cloudtrail-replay/index";

const FUNCTION = "aws-log-platform-dev-cloudtrail-to-kafka-1a2b3c4";
const TARGET: ReplayTarget = {
  region: "eu-west-1",
  functionName: FUNCTION,
  failureQueueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/aws-log-platform-dev-cloudtrail-failures-5d6e7f8",
};
const KEY = "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/12/01/123456789012_CloudTrail_eu-west-1_20261201T1005Z_Ab12Cd34Ef56Gh78.json.gz";

/** The S3 event of one log file, as the function receives it. */
const s3Event = (key: string) => ({
  Records: [{ eventSource: "aws:s3", eventName: "ObjectCreated:Put", s3: { bucket: { name: "logs-bucket" }, object: { key, size: 1234 } } }],
});

/** An on-failure invocation record, shaped as the example of Lambda's guide ("Capturing records of Lambda asynchronous invocations"). */
const failureRecord = (key: string, functionName = FUNCTION) => ({
  version: "1.0",
  timestamp: "2026-12-01T10:12:05.568Z",
  requestContext: {
    requestId: "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
    functionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}:$LATEST`,
    condition: "RetriesExhausted",
    approximateInvokeCount: 3,
  },
  requestPayload: s3Event(key),
  responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
  responsePayload: { errorType: "KafkaError", errorMessage: "broker unreachable" },
});

const message = (id: string, body: unknown): Message => ({
  MessageId: id,
  ReceiptHandle: `receipt-${id}`,
  Body: typeof body === "string" ? body : JSON.stringify(body),
});

describe("cloudtrail:replay (against aws-sdk-client-mock, a stand-in for SQS and Lambda)", () => {
  const sqs = mockClient(SQSClient);
  const lambda = mockClient(LambdaClient);
  const clients = () => ({ sqs: new SQSClient({ region: "eu-west-1" }), lambda: new LambdaClient({ region: "eu-west-1" }) });
  const quiet = () => undefined;
  const options = { ...DEFAULT_REPLAY_OPTIONS, waitSeconds: 0 };

  beforeEach(() => {
    sqs.reset();
    lambda.reset();
  });
  after(() => {
    sqs.restore();
    lambda.restore();
  });

  /** The queue: these batches, then empty. */
  const queueHolds = (...batches: Message[][]) => {
    const receive = sqs.on(ReceiveMessageCommand);
    for (const batch of batches) receive.resolvesOnce({ Messages: batch });
    receive.resolves({});
    sqs.on(DeleteMessageCommand).resolves({});
  };
  const deleted = () => sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle);
  const invokedWith = () => lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);

  describe("parsing a message", () => {
    it("takes the record's requestPayload (the S3 event) as the event to replay, and names the log file and the error", () => {
      const parsed = parseFailureRecord(JSON.stringify(failureRecord(KEY)), FUNCTION);
      assert.ok(parsed.ok);
      assert.deepEqual(JSON.parse(parsed.payload), s3Event(KEY));
      assert.deepEqual([parsed.condition, parsed.error, parsed.objectKeys], ["RetriesExhausted", "broker unreachable", [KEY]]);
    });

    it("accepts a record of a qualified or unqualified ARN of the function, and one whose responsePayload is not an error object", () => {
      const record = failureRecord(KEY);
      record.requestContext.functionArn = `arn:aws:lambda:eu-west-1:123456789012:function:${FUNCTION}`;
      const parsed = parseFailureRecord(JSON.stringify({ ...record, responsePayload: "timed out" }), FUNCTION);
      assert.ok(parsed.ok);
      assert.equal(parsed.error, undefined);
    });

    it("refuses what is not an invocation record of this function, saying why", () => {
      const problem = (body: string | undefined) => {
        const parsed = parseFailureRecord(body, FUNCTION);
        assert.ok(!parsed.ok, String(body));
        return parsed.problem;
      };
      assert.match(problem(undefined), /no body/);
      assert.match(problem("not json"), /not JSON/);
      assert.match(problem("[1]"), /not a JSON object/);
      assert.match(problem(JSON.stringify(s3Event(KEY))), /not a Lambda invocation record/);
      assert.match(problem(JSON.stringify(failureRecord(KEY, "another-function"))), /function another-function, not of /);
      assert.match(problem(JSON.stringify({ ...failureRecord(KEY), requestPayload: undefined })), /no requestPayload/);
    });
  });

  describe("replaying", () => {
    it("invokes asynchronously with each payload, deletes each message after its invocation was accepted, and stops on an empty queue", async () => {
      const order: string[] = [];
      queueHolds([message("a", failureRecord("key-a")), message("b", failureRecord("key-b"))]);
      lambda.on(InvokeCommand).callsFake((input) => {
        order.push(`invoke ${JSON.parse(Buffer.from(input.Payload).toString()).Records[0].s3.object.key}`);
        return { StatusCode: 202 };
      });
      sqs.on(DeleteMessageCommand).callsFake((input) => {
        order.push(`delete ${input.ReceiptHandle}`);
        return {};
      });
      const counts = await replayFailures(TARGET, clients(), options, quiet);
      assert.deepEqual(counts, { received: 2, replayed: 2, invokeFailed: 0, unreadable: 0, deleteFailed: 0 });
      assert.deepEqual(order, ["invoke key-a", "delete receipt-a", "invoke key-b", "delete receipt-b"]);
      for (const input of invokedWith()) {
        assert.deepEqual([input.FunctionName, input.InvocationType], [FUNCTION, "Event"]);
      }
      assert.deepEqual(JSON.parse(Buffer.from(invokedWith()[0].Payload as Uint8Array).toString()), s3Event("key-a"));
      assert.ok(sqs.commandCalls(DeleteMessageCommand).every((c) => c.args[0].input.QueueUrl === TARGET.failureQueueUrl));
      // Two receives: the batch, then the empty answer that ends the run.
      assert.equal(sqs.commandCalls(ReceiveMessageCommand).length, 2);
      const receive = sqs.commandCalls(ReceiveMessageCommand)[0].args[0].input;
      assert.deepEqual([receive.QueueUrl, receive.MaxNumberOfMessages, receive.VisibilityTimeout], [TARGET.failureQueueUrl, 10, options.visibilitySeconds]);
    });

    it("leaves a message whose invocation failed or was not accepted, and replays the others", async () => {
      queueHolds([message("a", failureRecord("key-a")), message("b", failureRecord("key-b")), message("c", failureRecord("key-c"))]);
      lambda.on(InvokeCommand)
        .resolvesOnce({ StatusCode: 202 })
        .rejectsOnce(new Error("TooManyRequestsException: Rate exceeded"))
        .resolvesOnce({ StatusCode: 500 });
      const lines: string[] = [];
      const counts = await replayFailures(TARGET, clients(), options, (line) => lines.push(line));
      assert.deepEqual(counts, { received: 3, replayed: 1, invokeFailed: 2, unreadable: 0, deleteFailed: 0 });
      assert.deepEqual(deleted(), ["receipt-a"]);
      assert.ok(lines.some((line) => line.includes("left key-b") && line.includes("Rate exceeded")), lines.join("\n"));
      assert.ok(lines.some((line) => line.includes("left key-c") && line.includes("500")), lines.join("\n"));
    });

    it("never invokes for an unreadable message, and leaves it", async () => {
      queueHolds([message("x", "garbage"), message("a", failureRecord("key-a"))]);
      lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
      const counts = await replayFailures(TARGET, clients(), options, quiet);
      assert.deepEqual(counts, { received: 2, replayed: 1, invokeFailed: 0, unreadable: 1, deleteFailed: 0 });
      assert.equal(invokedWith().length, 1);
      assert.deepEqual(deleted(), ["receipt-a"]);
    });

    it("counts a message that was replayed but could not be deleted", async () => {
      queueHolds([message("a", failureRecord("key-a"))]);
      lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
      sqs.on(DeleteMessageCommand).rejects(new Error("ReceiptHandleIsInvalid"));
      const counts = await replayFailures(TARGET, clients(), options, quiet);
      assert.deepEqual(counts, { received: 1, replayed: 0, invokeFailed: 0, unreadable: 0, deleteFailed: 1 });
    });

    it("is bounded: stops after max messages, asking for no more than are left", async () => {
      const batch = (prefix: string) => Array.from({ length: 10 }, (_, i) => message(`${prefix}${i}`, failureRecord(`${prefix}${i}`)));
      queueHolds(batch("a"), batch("b"), batch("c"));
      lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
      const counts = await replayFailures(TARGET, clients(), { ...options, max: 13 }, quiet);
      assert.deepEqual([counts.received, counts.replayed], [13, 13]);
      assert.deepEqual(sqs.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input.MaxNumberOfMessages), [10, 3]);
    });

    it("stops when the queue answers only messages it already tried in this run", async () => {
      queueHolds([message("a", failureRecord("key-a"))], [message("a", failureRecord("key-a"))], [message("b", failureRecord("key-b"))]);
      lambda.on(InvokeCommand).rejects(new Error("AccessDeniedException"));
      const counts = await replayFailures(TARGET, clients(), options, quiet);
      assert.deepEqual(counts, { received: 1, replayed: 0, invokeFailed: 1, unreadable: 0, deleteFailed: 0 });
    });

    it("reports a receive that failed with what was done before it", async () => {
      sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: [message("a", failureRecord("key-a"))] }).rejects(new Error("AccessDenied"));
      sqs.on(DeleteMessageCommand).resolves({});
      lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
      const counts = await replayFailures(TARGET, clients(), options, quiet);
      assert.deepEqual(counts, { received: 1, replayed: 1, invokeFailed: 0, unreadable: 0, deleteFailed: 0, receiveError: "AccessDenied" });
    });
  });

  describe("the command", () => {
    const outputs = (value: unknown) => () => ({ read: async () => value });

    it("reads the stack output cloudtrail and replays into its region; exit 0 when all were replayed", async () => {
      queueHolds([message("a", failureRecord("key-a"))]);
      lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
      const regions: string[] = [];
      const lines: string[] = [];
      const code = await main(["dev", "--max", "5"], {
        outputs: outputs({ cloudtrail: TARGET, gatewayUrl: "http://x" }),
        clients: (region) => {
          regions.push(region);
          return clients();
        },
        print: (line) => lines.push(line),
        options: { waitSeconds: 0 },
      });
      assert.equal(code, 0, lines.join("\n"));
      assert.deepEqual(regions, ["eu-west-1"]);
      assert.match(lines.at(-1) ?? "", /^1 received, 1 replayed and deleted, 0 not accepted/);
    });

    it("exits 1 when a message was left, and 0 on an empty queue", async () => {
      queueHolds([message("a", failureRecord("key-a"))]);
      lambda.on(InvokeCommand).resolves({ StatusCode: 429 });
      const deps = { outputs: outputs({ cloudtrail: TARGET }), clients, print: quiet, options: { waitSeconds: 0 } };
      assert.equal(await main([], deps), 1);
      sqs.reset();
      queueHolds();
      assert.equal(await main([], deps), 0);
    });

    it("exits 2, saying what is missing, on a stack without the module's outputs or bad arguments", async () => {
      const lines: string[] = [];
      const code = await main([], { outputs: outputs({ gatewayUrl: "http://x" }), print: (line) => lines.push(line) });
      assert.equal(code, 2);
      assert.match(lines[0], /lack the CloudTrail module's: \(root\) must have required property 'cloudtrail'.*cloudtrail: true/);
      assert.throws(() => parseReplayOutputs({ cloudtrail: { ...TARGET, failureQueueUrl: "" } }), /failureQueueUrl/);
      assert.throws(() => parseCommandLine(["--max", "0"]), /--max must be a positive whole number/);
      assert.throws(() => parseCommandLine(["a", "b"]), /one stack name at most/);
      assert.deepEqual(parseCommandLine([]), { stack: undefined, max: DEFAULT_REPLAY_OPTIONS.max, help: false });
    });
  });
});
