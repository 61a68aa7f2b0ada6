import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { Network } from "../targets/aws/network";
import { PORTS } from "../platform/ports";

export interface CloudTrailArgs {
  /** The platform's VPC: the function runs in its subnet and reaches the kafka host's security group. */
  network: Network;
  /** The brokers' private addresses, where their EXTERNAL listeners are advertised. */
  kafkaBrokers: pulumi.Input<string>[];
  /** The Kafka topic the function produces to. */
  topic: string;
  /** The region the trail is created in (its home region; it records every region). */
  region: string;
  /** Days Elasticsearch keeps an index: the log files in S3 outlive them by LOG_FILE_MARGIN_DAYS. */
  elasticsearchRetentionDays: number;
  /** The built function: a folder holding `index.js` that exports `handler`. */
  functionCode: pulumi.asset.Archive;
  /** What must exist before S3 notifies the function (the topic, which Kafka does not auto-create). */
  notifyAfter: pulumi.Resource[];
  /**
   * Where the failure alarm is mailed (the `to` of the stack's alertEmail): an e-mail subscription of the alarm topic,
   * which AWS asks that address to confirm. None: the topic has no subscriber until one is added.
   */
  alarmEmail?: string;
}

/** Log files outlive the indices by a week, so a file can still be replayed after an outage of the pipeline. */
export const LOG_FILE_MARGIN_DAYS = 7;
/** Days the function's own log group keeps its lines. */
export const FUNCTION_LOG_RETENTION_DAYS = 14;
/** Log files are gzipped JSON; digest files share the suffix but live under CloudTrail-Digest/, outside the prefix. */
export const LOG_FILE_SUFFIX = ".json.gz";
/** Seconds the failure queue keeps a record: 14 days, the most SQS allows, a week beyond the log files' margin. */
export const FAILURE_RETENTION_SECONDS = 14 * 24 * 60 * 60;
/** Lambda's own retries of an asynchronous invocation that failed (its default, stated): 3 attempts in all. */
export const ASYNC_RETRY_ATTEMPTS = 2;
/** Seconds Lambda keeps an event it could not yet run (its default and maximum, 6 hours, stated). */
export const ASYNC_MAX_EVENT_AGE_SECONDS = 6 * 60 * 60;
/** The failure alarm fires when the queue holds at least this many records (Maximum over a period). */
export const FAILURE_ALARM_THRESHOLD = 1;

/**
 * The exact network-interface actions the Lambda service needs to attach a function to a VPC, as in the managed
 * policy AWSLambdaVPCAccessExecutionRole minus its logs actions on every log group (the function gets its own below).
 */
export const VPC_ACCESS_ACTIONS = [
  "ec2:CreateNetworkInterface",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeSubnets",
  "ec2:DeleteNetworkInterface",
  "ec2:AssignPrivateIpAddresses",
  "ec2:UnassignPrivateIpAddresses",
];

/**
 * The account's AWS API activity into the platform: a multi-region trail of management events writes gzipped log
 * files to a bucket only CloudTrail can write; each new log file notifies a Lambda in the VPC, which produces its
 * records to Kafka (egress to the broker and, through a free gateway endpoint, to S3 only). A log file the function
 * still fails on after Lambda's retries lands as an invocation record in an encrypted SQS queue, kept 14 days; an
 * alarm on that queue notifies an encrypted SNS topic, and `npm run cloudtrail:replay` re-invokes the function with
 * the records' events.
 */
export class CloudTrail extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly trailArn: pulumi.Output<string>;
  public readonly functionName: pulumi.Output<string>;
  public readonly functionArn: pulumi.Output<string>;
  /** The region of the function and the queue, for the replay command's AWS clients. */
  public readonly region: string;
  /** The on-failure destination of the function's asynchronous invocations. */
  public readonly failureQueueUrl: pulumi.Output<string>;
  public readonly failureQueueArn: pulumi.Output<string>;
  /** The topic the failure alarm notifies (KMS-encrypted with a key of the module's own). */
  public readonly alarmTopicArn: pulumi.Output<string>;

  constructor(name: string, args: CloudTrailArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:CloudTrail", name, {}, opts);
    const parent = { parent: this };
    const { network } = args;

    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
    const { partition, reverseDnsPrefix } = aws.getPartitionOutput({}, parent);
    // The policy must name the trail before the trail exists (CloudTrail checks it at creation): a fixed name.
    const trailName = name;
    const trailArn = pulumi.interpolate`arn:${partition}:cloudtrail:${args.region}:${accountId}:trail/${trailName}`;
    // Where CloudTrail writes this account's log files, for every region: AWSLogs/<account>/CloudTrail/<region>/...
    const logFilePrefix = pulumi.interpolate`AWSLogs/${accountId}/CloudTrail/`;

    // forceDestroy: `pulumi destroy` removes the log files with the bucket instead of failing on a non-empty one.
    const bucket = new aws.s3.Bucket(`${name}-logs`, { forceDestroy: true }, parent);
    const ownership = new aws.s3.BucketOwnershipControls(`${name}-logs-ownership`, {
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    }, parent);
    const publicAccess = new aws.s3.BucketPublicAccessBlock(`${name}-logs-public-access`, {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    }, parent);
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-logs-encryption`, {
      bucket: bucket.id,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    }, parent);
    new aws.s3.BucketLifecycleConfiguration(`${name}-logs-expiry`, {
      bucket: bucket.id,
      rules: [{
        id: "expire-log-files",
        status: "Enabled",
        filter: {},
        expiration: { days: args.elasticsearchRetentionDays + LOG_FILE_MARGIN_DAYS },
      }],
    }, parent);

    // AWS's documented policy for a trail's bucket (CloudTrail user guide, "Amazon S3 bucket policy for CloudTrail"),
    // bound to this trail by aws:SourceArn, plus a refusal of plain HTTP.
    const onlyThisTrail = { "aws:SourceArn": trailArn };
    const policy = new aws.s3.BucketPolicy(`${name}-logs-policy`, {
      bucket: bucket.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "AWSCloudTrailAclCheck",
            Effect: "Allow",
            Principal: { Service: "cloudtrail.amazonaws.com" },
            Action: "s3:GetBucketAcl",
            Resource: bucket.arn,
            Condition: { StringEquals: onlyThisTrail },
          },
          {
            Sid: "AWSCloudTrailWrite",
            Effect: "Allow",
            Principal: { Service: "cloudtrail.amazonaws.com" },
            Action: "s3:PutObject",
            Resource: pulumi.interpolate`${bucket.arn}/AWSLogs/${accountId}/*`,
            Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", ...onlyThisTrail } },
          },
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    }, {
      ...parent,
      // S3 refuses concurrent changes of a bucket's access settings (OperationAborted): one after the other.
      dependsOn: [publicAccess, ownership],
    });

    const trail = new aws.cloudtrail.Trail(`${name}-trail`, {
      name: trailName,
      s3BucketName: bucket.id,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableLogFileValidation: true,
      // Management events only: the first copy of them in an account is free; data events are billed per event.
      eventSelectors: [{ readWriteType: "All", includeManagementEvents: true }],
    }, { ...parent, dependsOn: [policy] });

    // Lambda's invocation records of the log files the function failed on: SQS-managed encryption (no key to pay or
    // grant), kept as long as SQS allows. Lambda checks that the role may send to it when the destination is set.
    const failures = new aws.sqs.Queue(`${name}-failures`, {
      messageRetentionSeconds: FAILURE_RETENTION_SECONDS,
      sqsManagedSseEnabled: true,
    }, parent);

    const logGroup = new aws.cloudwatch.LogGroup(`${name}-function-logs`, { retentionInDays: FUNCTION_LOG_RETENTION_DAYS }, parent);

    const role = new aws.iam.Role(`${name}-function-role`, {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    }, parent);
    const rolePolicy = new aws.iam.RolePolicy(`${name}-function-policy`, {
      role: role.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ReadLogFiles", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${bucket.arn}/${logFilePrefix}*` },
          { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${logGroup.arn}:*` },
          // Lambda sends the on-failure invocation records with the function's role (Lambda developer guide,
          // "Capturing records of Lambda asynchronous invocations").
          { Sid: "RecordFailures", Effect: "Allow", Action: "sqs:SendMessage", Resource: failures.arn },
          // These actions take no resource narrower than "*" (DescribeNetworkInterfaces works only on "*").
          { Sid: "AttachToVpc", Effect: "Allow", Action: VPC_ACCESS_ACTIONS, Resource: "*" },
        ],
      }),
    }, parent);

    // Free, and no NAT: the function reaches S3 through the subnet's route table.
    const s3Endpoint = new aws.ec2.VpcEndpoint(`${name}-s3`, {
      vpcId: network.vpc.id,
      serviceName: pulumi.interpolate`${reverseDnsPrefix}.${args.region}.s3`,
      vpcEndpointType: "Gateway",
      routeTableIds: [network.routeTable.id],
      tags: { Name: `${name}-s3` },
    }, parent);

    // No egress but the two below: a security group created by the provider loses AWS's default allow-all rule.
    const group = new aws.ec2.SecurityGroup(`${name}-function`, {
      vpcId: network.vpc.id,
      description: "CloudTrail to Kafka function",
      tags: { Name: `${name}-function` },
    }, parent);
    new aws.vpc.SecurityGroupEgressRule(`${name}-function-to-kafka`, {
      securityGroupId: group.id,
      ipProtocol: "tcp",
      fromPort: PORTS.kafka,
      toPort: PORTS.kafka,
      referencedSecurityGroupId: network.securityGroups.kafka.id,
      description: "produce to the kafka host",
    }, parent);
    new aws.vpc.SecurityGroupEgressRule(`${name}-function-to-s3`, {
      securityGroupId: group.id,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      prefixListId: s3Endpoint.prefixListId,
      description: "read log files through the S3 gateway endpoint",
    }, parent);
    network.admitModule("cloudtrail", group.id, parent);

    const fn = new aws.lambda.Function(`${name}-to-kafka`, {
      description: "Produces each record of a new CloudTrail log file to Kafka",
      // Lambda's Node.js 20 runtime is deprecated (April 2026); 24 is supported until April 2028. The bundle targets
      // Node 20 syntax, which 24 runs, so the tests can load it on this project's Node 20.
      runtime: "nodejs24.x",
      handler: "index.handler",
      code: args.functionCode,
      role: role.arn,
      architectures: ["arm64"],
      // A log file holds up to a few thousand records of a few KiB: its JSON, parsed, fits well in 512 MiB, and 5
      // minutes leave room for a broker that is slow to acknowledge.
      memorySize: 512,
      timeout: 300,
      environment: {
        variables: {
          KAFKA_BOOTSTRAP_SERVERS: pulumi.all(args.kafkaBrokers).apply((ips) => ips.map((ip) => `${ip}:${PORTS.kafka}`).join(",")),
          KAFKA_TOPIC: args.topic,
        },
      },
      // In every zone the hosts use, so the function keeps running when one zone does not.
      vpcConfig: { subnetIds: network.subnets.map((subnet) => subnet.id), securityGroupIds: [group.id] },
      loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
    }, {
      ...parent,
      // Lambda checks at creation that the role may create network interfaces.
      dependsOn: [rolePolicy],
    });

    // After its retries (or 6 hours without a run), Lambda sends the event's invocation record to the queue instead
    // of dropping it: {version, timestamp, requestContext {requestId, functionArn, condition, approximateInvokeCount},
    // requestPayload (the S3 event), responseContext, responsePayload (the error)}.
    const asyncConfig = new aws.lambda.FunctionEventInvokeConfig(`${name}-async`, {
      functionName: fn.name,
      maximumRetryAttempts: ASYNC_RETRY_ATTEMPTS,
      maximumEventAgeInSeconds: ASYNC_MAX_EVENT_AGE_SECONDS,
      destinationConfig: { onFailure: { destination: failures.arn } },
    }, { ...parent, dependsOn: [rolePolicy] });

    // CloudWatch alarms can publish to an encrypted topic only with a customer managed key whose policy lets them
    // use it: the AWS managed alias/aws/sns key's policy cannot name CloudWatch.
    const alarmKey = new aws.kms.Key(`${name}-alarms`, {
      description: `${name}: encrypts the CloudTrail failure alarm's topic`,
      enableKeyRotation: true,
      deletionWindowInDays: 7,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          // The account administers the key through IAM, as in a key's default policy.
          { Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: pulumi.interpolate`arn:${partition}:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" },
          { Sid: "CloudWatchAlarmsPublish", Effect: "Allow", Principal: { Service: "cloudwatch.amazonaws.com" }, Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: "*" },
        ],
      }),
    }, parent);
    const alarmTopic = new aws.sns.Topic(`${name}-alarms`, { kmsMasterKeyId: alarmKey.arn }, parent);
    const alarm = new aws.cloudwatch.MetricAlarm(`${name}-failures`, {
      alarmDescription: pulumi.interpolate`CloudTrail log files the function ${fn.name} failed on wait in SQS queue ${failures.name}: ` +
        "see the function's log group, then replay them with `npm run cloudtrail:replay`",
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: failures.name },
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 1,
      threshold: FAILURE_ALARM_THRESHOLD,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      // SQS stops reporting a queue that has been empty and untouched for 6 hours: no data is an empty queue.
      treatMissingData: "notBreaching",
      alarmActions: [alarmTopic.arn],
      okActions: [alarmTopic.arn],
    }, parent);
    new aws.sns.TopicPolicy(`${name}-alarms`, {
      arn: alarmTopic.arn,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [{
          Sid: "FailureAlarmPublishes",
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: alarmTopic.arn,
          Condition: { ArnLike: { "aws:SourceArn": alarm.arn } },
        }],
      }),
    }, parent);
    if (args.alarmEmail) {
      new aws.sns.TopicSubscription(`${name}-alarms-email`, { topic: alarmTopic.arn, protocol: "email", endpoint: args.alarmEmail }, parent);
    }

    const invokeFromS3 = new aws.lambda.Permission(`${name}-from-s3`, {
      action: "lambda:InvokeFunction",
      function: fn.name,
      principal: "s3.amazonaws.com",
      sourceArn: bucket.arn,
      sourceAccount: accountId,
    }, parent);
    new aws.s3.BucketNotification(`${name}-logs-notification`, {
      bucket: bucket.id,
      lambdaFunctions: [{
        lambdaFunctionArn: fn.arn,
        events: ["s3:ObjectCreated:*"],
        filterPrefix: logFilePrefix,
        filterSuffix: LOG_FILE_SUFFIX,
      }],
    }, {
      ...parent,
      // S3 checks at creation that it may invoke the function; no log file is notified before failures are kept.
      dependsOn: [invokeFromS3, asyncConfig, ...args.notifyAfter],
    });

    this.bucketName = bucket.id;
    this.trailArn = trail.arn;
    this.functionName = fn.name;
    this.functionArn = fn.arn;
    this.region = args.region;
    this.failureQueueUrl = failures.url;
    this.failureQueueArn = failures.arn;
    this.alarmTopicArn = alarmTopic.arn;
    this.registerOutputs({
      bucketName: this.bucketName,
      trailArn: this.trailArn,
      functionName: this.functionName,
      functionArn: this.functionArn,
      failureQueueUrl: this.failureQueueUrl,
      failureQueueArn: this.failureQueueArn,
      alarmTopicArn: this.alarmTopicArn,
    });
  }
}
