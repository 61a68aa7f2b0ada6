// The CloudTrail module's failure path (issue 19) on the Pulumi mocks: the queue Lambda sends a failed log file's
// invocation record to, the role's permission to send there, the alarm on the queue and the topic it notifies.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MOCK_ACCOUNT_ID, Registered, TEST_CONFIG, PROJECT, STACK, mockAlarmArn, mockKeyArn, mockQueueArn, mockQueueUrl, mockTopicArn, runProgram, settle } from "../setup";
import { Statement, statementsOf } from "../helpers/registered";
import * as cloudtrailModule from "../../components/cloudtrail/cloudtrail";
import * as cloudtrailFunction from "../../components/cloudtrail/function-build";

const ON: Record<string, string> = { ...TEST_CONFIG, [`${PROJECT}:cloudtrail`]: "true" };
const WITHOUT_ALERT_EMAIL = Object.fromEntries(Object.entries(ON).filter(([key]) => !/:(alertEmail|alertSmtpPassword)$/.test(key)));
const MODULE = `${PROJECT}-${STACK}-cloudtrail`;
/** TEST_CONFIG's alertEmail.to. */
const ALERT_TO = "ops@example.com";

const actionsOf = (statement: Statement) => [statement.Action].flat();

describe("CloudTrail failures: queue, alarm, topic (Pulumi mocks)", function () {
  this.timeout(60_000);
  const build = cloudtrailFunction as { buildCloudTrailFunction: () => Promise<string> };
  const realBuild = build.buildCloudTrailFunction;
  let withEmail: Registered[];
  let withoutEmail: Registered[];
  let outputs: Record<string, unknown>;

  /** Runs the program with the module on; its stack output `cloudtrail` is what the replay command reads. */
  const run = async (config: Record<string, string>) => {
    const { resources, outputs } = await runProgram(config);
    return { resources, outputs: (await settle(outputs.cloudtrail)) as Record<string, unknown> };
  };

  before(async () => {
    const functionDir = fs.mkdtempSync(path.join(os.tmpdir(), "cloudtrail-function-"));
    fs.writeFileSync(path.join(functionDir, "index.js"), "exports.handler = async () => {};\n");
    process.once("exit", () => fs.rmSync(functionDir, { recursive: true, force: true }));
    build.buildCloudTrailFunction = async () => functionDir;
    ({ resources: withEmail, outputs } = await run(ON));
    ({ resources: withoutEmail } = await run(WITHOUT_ALERT_EMAIL));
  });

  after(() => {
    build.buildCloudTrailFunction = realBuild;
  });

  const single = (type: string, resources = withEmail): Registered => {
    const found = resources.filter((r) => r.type === type);
    assert.equal(found.length, 1, `${type}: ${found.map((r) => r.name).join(", ")}`);
    return found[0];
  };
  const queue = () => single("aws:sqs/queue:Queue");
  const fn = () => single("aws:lambda/function:Function");
  const topic = () => single("aws:sns/topic:Topic");
  const alarm = () => single("aws:cloudwatch/metricAlarm:MetricAlarm");

  it("keeps the records in one SQS queue, encrypted by SQS, for 14 days", () => {
    assert.equal(queue().name, `${MODULE}-failures`);
    assert.equal(queue().inputs.messageRetentionSeconds, 1_209_600);
    assert.equal(cloudtrailModule.FAILURE_RETENTION_SECONDS, 1_209_600);
    assert.equal(queue().inputs.sqsManagedSseEnabled, true);
    // A standard queue: Lambda's on-failure destinations take no FIFO queue.
    assert.notEqual(queue().inputs.fifoQueue, true);
  });

  it("makes the queue the on-failure destination of the function's asynchronous invocations, after two retries", () => {
    const config = single("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig");
    assert.equal(config.name, `${MODULE}-async`);
    assert.equal(config.inputs.functionName, fn().name);
    assert.deepEqual(config.inputs.destinationConfig, { onFailure: { destination: mockQueueArn(queue().name) } });
    assert.equal(config.inputs.maximumRetryAttempts, 2);
    assert.equal(config.inputs.maximumEventAgeInSeconds, 21_600);
    assert.equal(config.inputs.qualifier, undefined, "the unqualified function ($LATEST), which S3 invokes");
    // Lambda checks the role's permission to send when the destination is set.
    assert.ok(config.dependsOn.includes(single("aws:iam/rolePolicy:RolePolicy").name));
    // No log file is notified before failures are kept.
    assert.ok(single("aws:s3/bucketNotification:BucketNotification").dependsOn.includes(config.name));
  });

  it("lets the function's role send to that queue only, and do nothing else with SQS", () => {
    const statements = statementsOf(single("aws:iam/rolePolicy:RolePolicy"));
    const sqs = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("sqs:") || a === "*"));
    assert.deepEqual(sqs, [{ Sid: "RecordFailures", Effect: "Allow", Action: "sqs:SendMessage", Resource: mockQueueArn(queue().name) }]);
  });

  it("alarms when the queue is not empty: the Maximum of its visible messages >= 1", () => {
    const inputs = alarm().inputs;
    assert.deepEqual(
      {
        namespace: inputs.namespace, metricName: inputs.metricName, dimensions: inputs.dimensions, statistic: inputs.statistic,
        threshold: inputs.threshold, comparisonOperator: inputs.comparisonOperator, evaluationPeriods: inputs.evaluationPeriods,
        treatMissingData: inputs.treatMissingData,
      },
      {
        namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible", dimensions: { QueueName: queue().name }, statistic: "Maximum",
        threshold: 1, comparisonOperator: "GreaterThanOrEqualToThreshold", evaluationPeriods: 1, treatMissingData: "notBreaching",
      },
    );
    assert.deepEqual(inputs.alarmActions, [mockTopicArn(topic().name)]);
    assert.deepEqual(inputs.okActions, [mockTopicArn(topic().name)]);
    assert.match(String(inputs.alarmDescription), /npm run cloudtrail:replay/);
  });

  it("notifies a topic encrypted with the module's own key, which CloudWatch may use; only this alarm may publish", () => {
    const key = single("aws:kms/key:Key");
    assert.equal(topic().inputs.kmsMasterKeyId, mockKeyArn(key.name));
    assert.equal(key.inputs.enableKeyRotation, true);
    assert.deepEqual(statementsOf(key), [
      { Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${MOCK_ACCOUNT_ID}:root` }, Action: "kms:*", Resource: "*" },
      { Sid: "CloudWatchAlarmsPublish", Effect: "Allow", Principal: { Service: "cloudwatch.amazonaws.com" }, Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: "*" },
    ]);
    const policy = single("aws:sns/topicPolicy:TopicPolicy");
    assert.equal(policy.inputs.arn, mockTopicArn(topic().name));
    assert.deepEqual(statementsOf(policy), [{
      Sid: "FailureAlarmPublishes",
      Effect: "Allow",
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Resource: mockTopicArn(topic().name),
      Condition: { ArnLike: { "aws:SourceArn": mockAlarmArn(alarm().name) } },
    }]);
  });

  it("subscribes the alert e-mail address to the topic when given one, and nothing otherwise", () => {
    const subscription = single("aws:sns/topicSubscription:TopicSubscription");
    assert.deepEqual(
      [subscription.inputs.topic, subscription.inputs.protocol, subscription.inputs.endpoint],
      [mockTopicArn(topic().name), "email", ALERT_TO],
    );
    assert.deepEqual(withoutEmail.filter((r) => r.type === "aws:sns/topicSubscription:TopicSubscription"), []);
    assert.equal(single("aws:sns/topic:Topic", withoutEmail).name, topic().name);
  });

  it("gives the replay command what it reads (the stack output cloudtrail): the region, the function, the queue's URL, the topic", () => {
    assert.deepEqual(outputs, {
      functionName: fn().name,
      region: "eu-west-1",
      failureQueueUrl: mockQueueUrl(queue().name),
      alarmTopicArn: mockTopicArn(topic().name),
    });
  });

  it("parents the failure path's resources to the CloudTrail component", () => {
    const types = ["sqs/queue", "lambda/functionEventInvokeConfig", "kms/key", "sns/topic", "sns/topicPolicy", "sns/topicSubscription", "cloudwatch/metricAlarm"];
    for (const type of types) {
      const found = withEmail.filter((r) => r.type.split(":")[1] === type);
      assert.equal(found.length, 1, type);
      assert.ok(found[0].urn.includes("logplatform:index:CloudTrail$"), `${found[0].name}: ${found[0].urn}`);
      assert.ok(found[0].name.startsWith(`${MODULE}-`), found[0].name);
    }
  });
});
