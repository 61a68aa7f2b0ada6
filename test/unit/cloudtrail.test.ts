// The CloudTrail module (issue 12) on the Pulumi mocks: the whole program with `cloudtrail` off and on.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MOCK_ACCOUNT_ID, PROJECT, Registered, STACK, TEST_CONFIG, mockQueueArn, runProgram, settle } from "../setup";
import { ConfigSource } from "../../components/config/source";
import { parseConfig } from "../../components/config/parse";
import { LOG_FILE_MARGIN_DAYS, LOG_FILE_SUFFIX, VPC_ACCESS_ACTIONS } from "../../components/cloudtrail/cloudtrail";
import { kafkaTopic } from "../../components/platform/naming";
import * as cloudtrailFunction from "../../components/cloudtrail/function-build";
import { statementsOf } from "../helpers/registered";

const NAME = `${PROJECT}-${STACK}`;
const MODULE = `${NAME}-cloudtrail`;
const ON: Record<string, string> = { ...TEST_CONFIG, [`${PROJECT}:cloudtrail`]: "true" };

/** Types only the module registers. */
const MODULE_TYPES = [
  "logplatform:index:CloudTrail",
  "aws:cloudtrail/trail:Trail",
  "aws:s3/bucket:Bucket",
  "aws:s3/bucketPolicy:BucketPolicy",
  "aws:s3/bucketNotification:BucketNotification",
  "aws:lambda/function:Function",
  "aws:lambda/permission:Permission",
  "aws:iam/role:Role",
  "aws:iam/rolePolicy:RolePolicy",
  "aws:ec2/vpcEndpoint:VpcEndpoint",
  "aws:cloudwatch/logGroup:LogGroup",
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
  "aws:sqs/queue:Queue",
  "aws:kms/key:Key",
  "aws:sns/topic:Topic",
  "aws:sns/topicPolicy:TopicPolicy",
  "aws:sns/topicSubscription:TopicSubscription",
  "aws:cloudwatch/metricAlarm:MetricAlarm",
];


describe("CloudTrail module (Pulumi mocks)", function () {
  this.timeout(60_000);
  const build = cloudtrailFunction as { buildCloudTrailFunction: () => Promise<string> };
  const realBuild = build.buildCloudTrailFunction;
  let builds = 0;
  let functionDir: string;
  let off: Registered[];
  let on: Registered[];
  let kafkaPrivateIp: string;

  const ofType = (type: string) => on.filter((r) => r.type === type);
  // The module's types may also be the platform's own (an IAM role of the hosts' snapshots): of those, the module's.
  const single = (type: string): Registered => {
    const found = ofType(type).filter((r) => !MODULE_TYPES.includes(r.type) || r.urn.includes("logplatform:index:CloudTrail"));
    assert.equal(found.length, 1, `${type}: ${found.map((r) => r.name).join(", ")}`);
    return found[0];
  };
  const idOf = (resource: Registered) => `${resource.name}-id`;
  const securityGroup = (name: string): Registered => {
    const found = ofType("aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === name);
    assert.ok(found, `no security group ${name}`);
    return found;
  };

  before(async () => {
    // Stands in for the esbuild bundle, which the Lambda's own tests build.
    functionDir = fs.mkdtempSync(path.join(os.tmpdir(), "cloudtrail-function-"));
    fs.writeFileSync(path.join(functionDir, "index.js"), "exports.handler = async () => {};\n");
    // Removed only at exit: the SDK still looks at a registered archive's folder during later runs of the program.
    process.once("exit", () => fs.rmSync(functionDir, { recursive: true, force: true }));
    build.buildCloudTrailFunction = async () => {
      builds += 1;
      return functionDir;
    };
    off = (await runProgram(TEST_CONFIG)).resources;
    assert.equal(builds, 0, "the function is built with cloudtrail off");
    const run = await runProgram(ON);
    on = run.resources;
    kafkaPrivateIp = ((await settle(run.outputs)) as { hosts: { kafka: { privateIp: string } } }).hosts.kafka.privateIp;
  });

  after(() => {
    build.buildCloudTrailFunction = realBuild;
  });

  describe("config key", () => {
    const source = (values: Record<string, string | undefined>): ConfigSource => ({
      get: (key) => ({ "aws:region": "eu-west-1", ...values })[key],
      hasSshPrivateKey: false,
      stackName: "dev",
      namespace: PROJECT,
    });
    const error = (values: Record<string, string | undefined>): string => {
      try {
        parseConfig(source(values));
      } catch (e) {
        return (e as Error).message;
      }
      assert.fail(`${JSON.stringify(values)} accepted`);
    };

    it("is off by default and takes true or false", () => {
      assert.equal(parseConfig(source({})).cloudtrail, false);
      assert.equal(parseConfig(source({ cloudtrail: "true" })).cloudtrail, true);
      assert.equal(parseConfig(source({ cloudtrail: "false" })).cloudtrail, false);
    });

    it("refuses anything else with the key, the value and what is expected", () => {
      assert.match(error({ cloudtrail: "yes" }), /aws-log-platform:cloudtrail = "yes": expected true or false/);
    });

    it("is refused with target docker, and false is accepted there", () => {
      const local = { target: "docker", "aws:region": undefined };
      assert.match(error({ ...local, cloudtrail: "true" }), /aws-log-platform:cloudtrail = "true": expected false with target docker/);
      assert.equal(parseConfig(source({ ...local, cloudtrail: "false" })).cloudtrail, false);
    });
  });

  describe("off", () => {
    it("registers nothing of the module and never builds the function", () => {
      assert.ok(off.length > 60, `only ${off.length} resources registered`);
      assert.deepEqual(off.filter((r) => r.name.includes("cloudtrail") || r.urn.includes("CloudTrail")).map((r) => r.name), []);
      // Resources of the module's types with it off are the platform's own: the same with it on, outside the module.
      const platformOwn = (r: Registered) => on.some((o) => o.name === r.name && o.type === r.type && !o.urn.includes("logplatform:index:CloudTrail$"));
      assert.deepEqual(off.filter((r) => MODULE_TYPES.includes(r.type) && !platformOwn(r)).map((r) => r.name), []);
    });

    it("is all that changes: turning it on keeps every other resource and builds the function once", () => {
      assert.deepEqual(off.map((r) => r.name).filter((name) => !on.some((r) => r.name === name)), []);
      assert.equal(builds, 1);
    });
  });

  describe("on", () => {
    const trailArn = () => `arn:aws:cloudtrail:eu-west-1:${MOCK_ACCOUNT_ID}:trail/${String(single("aws:cloudtrail/trail:Trail").inputs.name)}`;
    const bucketArn = () => `arn:aws:s3:::${idOf(single("aws:s3/bucket:Bucket"))}`;
    const logPrefix = `AWSLogs/${MOCK_ACCOUNT_ID}/CloudTrail/`;

    it("records the account's management events in every region, with log file validation", () => {
      const trail = single("aws:cloudtrail/trail:Trail");
      assert.equal(trail.inputs.isMultiRegionTrail, true);
      assert.equal(trail.inputs.includeGlobalServiceEvents, true);
      assert.equal(trail.inputs.enableLogFileValidation, true);
      assert.deepEqual(trail.inputs.eventSelectors, [{ readWriteType: "All", includeManagementEvents: true }]);
      assert.equal(trail.inputs.advancedEventSelectors, undefined);
      assert.equal(trail.inputs.s3BucketName, idOf(single("aws:s3/bucket:Bucket")));
    });

    it("creates the bucket policy before the trail, which CloudTrail checks at creation", () => {
      assert.ok(single("aws:cloudtrail/trail:Trail").dependsOn.includes(single("aws:s3/bucketPolicy:BucketPolicy").name));
    });

    it("lets only CloudTrail, for this trail, write the bucket, with bucket-owner-full-control; nobody else is allowed anything", () => {
      const policy = single("aws:s3/bucketPolicy:BucketPolicy");
      assert.equal(policy.inputs.bucket, idOf(single("aws:s3/bucket:Bucket")));
      const statements = statementsOf(policy);
      const allows = statements.filter((s) => s.Effect === "Allow");
      assert.deepEqual(allows, [
        {
          Sid: "AWSCloudTrailAclCheck",
          Effect: "Allow",
          Principal: { Service: "cloudtrail.amazonaws.com" },
          Action: "s3:GetBucketAcl",
          Resource: bucketArn(),
          Condition: { StringEquals: { "aws:SourceArn": trailArn() } },
        },
        {
          Sid: "AWSCloudTrailWrite",
          Effect: "Allow",
          Principal: { Service: "cloudtrail.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: `${bucketArn()}/AWSLogs/${MOCK_ACCOUNT_ID}/*`,
          Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trailArn() } },
        },
      ]);
      // The only statement about everyone is a refusal: of plain HTTP.
      assert.deepEqual(statements.filter((s) => s.Effect === "Deny"), [{
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn(), `${bucketArn()}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }]);
    });

    it("blocks public access, disables ACLs, encrypts, expires log files after the indices, and empties itself on destroy", () => {
      const bucket = idOf(single("aws:s3/bucket:Bucket"));
      assert.equal(single("aws:s3/bucket:Bucket").inputs.forceDestroy, true);
      const block = single("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
      assert.deepEqual(
        { bucket: block.bucket, blockPublicAcls: block.blockPublicAcls, blockPublicPolicy: block.blockPublicPolicy, ignorePublicAcls: block.ignorePublicAcls, restrictPublicBuckets: block.restrictPublicBuckets },
        { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      );
      const ownership = single("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs;
      assert.deepEqual([ownership.bucket, ownership.rule], [bucket, { objectOwnership: "BucketOwnerEnforced" }]);
      const encryption = single("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs;
      assert.equal(encryption.bucket, bucket);
      assert.deepEqual(encryption.rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
      const lifecycle = single("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs;
      assert.equal(lifecycle.bucket, bucket);
      const [rule] = lifecycle.rules as { status: string; filter: unknown; expiration: { days: number } }[];
      // TEST_CONFIG keeps the default elasticsearchRetentionDays, 3.
      assert.deepEqual([rule.status, rule.filter, rule.expiration.days], ["Enabled", {}, 3 + LOG_FILE_MARGIN_DAYS]);
    });

    it("notifies the function of new log files only: not of digest files, not before the topic exists", () => {
      const notification = single("aws:s3/bucketNotification:BucketNotification");
      assert.equal(notification.inputs.bucket, idOf(single("aws:s3/bucket:Bucket")));
      const targets = notification.inputs.lambdaFunctions as { lambdaFunctionArn: string; events: string[]; filterPrefix: string; filterSuffix: string }[];
      assert.equal(targets.length, 1);
      const [target] = targets;
      assert.equal(target.lambdaFunctionArn, `arn:aws:lambda:eu-west-1:${MOCK_ACCOUNT_ID}:function:${single("aws:lambda/function:Function").name}`);
      assert.deepEqual(target.events, ["s3:ObjectCreated:*"]);
      assert.deepEqual([target.filterPrefix, target.filterSuffix], [logPrefix, LOG_FILE_SUFFIX]);
      // Keys as CloudTrail writes them (CloudTrail user guide, "Finding your CloudTrail log files").
      const notified = (key: string) => key.startsWith(target.filterPrefix) && key.endsWith(target.filterSuffix);
      assert.ok(notified(`AWSLogs/${MOCK_ACCOUNT_ID}/CloudTrail/us-east-1/2026/12/01/${MOCK_ACCOUNT_ID}_CloudTrail_us-east-1_20261201T1005Z_Ab12Cd34Ef56Gh78.json.gz`));
      assert.ok(!notified(`AWSLogs/${MOCK_ACCOUNT_ID}/CloudTrail-Digest/us-east-1/2026/12/01/${MOCK_ACCOUNT_ID}_CloudTrail-Digest_us-east-1_${MODULE}_us-east-1_20261201T100542Z.json.gz`));
      assert.ok(!notified(`AWSLogs/${MOCK_ACCOUNT_ID}/CloudTrail/`));
      // S3 checks its permission to invoke at creation; the kafka bundle creates the topic (no auto-create).
      assert.ok(notification.dependsOn.includes(single("aws:lambda/permission:Permission").name));
      assert.ok(notification.dependsOn.includes(`${NAME}-kafka-bundle-up`), notification.dependsOn.join(", "));
    });

    it("lets S3 invoke the function for this bucket in this account only", () => {
      const permission = single("aws:lambda/permission:Permission").inputs;
      assert.deepEqual(
        { action: permission.action, function: permission.function, principal: permission.principal, sourceArn: permission.sourceArn, sourceAccount: permission.sourceAccount },
        { action: "lambda:InvokeFunction", function: single("aws:lambda/function:Function").name, principal: "s3.amazonaws.com", sourceArn: bucketArn(), sourceAccount: MOCK_ACCOUNT_ID },
      );
    });

    it("runs the built function in the VPC's subnet with its own security group, producing to the kafka host's topic", () => {
      const fn = single("aws:lambda/function:Function");
      assert.equal(fn.inputs.runtime, "nodejs24.x");
      assert.equal(fn.inputs.handler, "index.handler");
      assert.equal((fn.inputs.code as { path: string }).path, functionDir);
      assert.deepEqual(fn.inputs.vpcConfig, {
        subnetIds: [idOf(single("aws:ec2/subnet:Subnet"))],
        securityGroupIds: [idOf(securityGroup(`${MODULE}-function`))],
      });
      assert.deepEqual(fn.inputs.environment, {
        variables: { KAFKA_BOOTSTRAP_SERVERS: `${kafkaPrivateIp}:9092`, KAFKA_TOPIC: kafkaTopic("cloudtrail", "events", "dev") },
      });
      assert.equal((fn.inputs.environment as { variables: Record<string, string> }).variables.KAFKA_TOPIC, "platform.cloudtrail.events.dev.json");
      assert.ok((fn.inputs.timeout as number) >= 60 && (fn.inputs.timeout as number) <= 900, `timeout ${String(fn.inputs.timeout)}`);
      assert.ok((fn.inputs.memorySize as number) >= 256, `memory ${String(fn.inputs.memorySize)}`);
      assert.equal(fn.inputs.role, `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${single("aws:iam/role:Role").name}`);
      // Lambda checks at creation that the role may create its network interfaces.
      assert.ok(fn.dependsOn.includes(single("aws:iam/rolePolicy:RolePolicy").name));
    });

    it("logs to its own log group, which keeps its lines for a bounded time", () => {
      const fn = single("aws:lambda/function:Function");
      const logGroup = single("aws:cloudwatch/logGroup:LogGroup");
      assert.equal((fn.inputs.loggingConfig as { logGroup: string }).logGroup, `/aws/lambda/${logGroup.name}`);
      assert.ok(Number(logGroup.inputs.retentionInDays) > 0);
    });

    it("gives the function a role with exactly: read the log files, write its own logs, record failures, attach to the VPC", () => {
      const role = single("aws:iam/role:Role");
      assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy as string).Statement, [
        { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
      ]);
      assert.equal(role.inputs.managedPolicyArns, undefined);
      assert.deepEqual(ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((r) => r.inputs.role === idOf(role)), []);
      const policy = single("aws:iam/rolePolicy:RolePolicy");
      assert.equal(policy.inputs.role, idOf(role));
      const logGroupArn = `arn:aws:logs:eu-west-1:${MOCK_ACCOUNT_ID}:log-group:/aws/lambda/${single("aws:cloudwatch/logGroup:LogGroup").name}`;
      assert.deepEqual(statementsOf(policy), [
        { Sid: "ReadLogFiles", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn()}/${logPrefix}*` },
        { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${logGroupArn}:*` },
        { Sid: "RecordFailures", Effect: "Allow", Action: "sqs:SendMessage", Resource: mockQueueArn(single("aws:sqs/queue:Queue").name) },
        { Sid: "AttachToVpc", Effect: "Allow", Action: VPC_ACCESS_ACTIONS, Resource: "*" },
      ]);
      // The managed AWSLambdaVPCAccessExecutionRole's ec2 actions, no more (its logs actions apply to every log group).
      assert.deepEqual([...VPC_ACCESS_ACTIONS].sort(), [
        "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
      ]);
    });

    it("reaches S3 through a gateway endpoint on the subnet's route table", () => {
      const endpoint = single("aws:ec2/vpcEndpoint:VpcEndpoint").inputs;
      assert.deepEqual(
        { vpcId: endpoint.vpcId, serviceName: endpoint.serviceName, vpcEndpointType: endpoint.vpcEndpointType, routeTableIds: endpoint.routeTableIds },
        {
          vpcId: idOf(single("aws:ec2/vpc:Vpc")),
          serviceName: "com.amazonaws.eu-west-1.s3",
          vpcEndpointType: "Gateway",
          routeTableIds: [idOf(single("aws:ec2/routeTable:RouteTable"))],
        },
      );
      const association = single("aws:ec2/routeTableAssociation:RouteTableAssociation").inputs;
      assert.deepEqual([association.subnetId, association.routeTableId], [idOf(single("aws:ec2/subnet:Subnet")), idOf(single("aws:ec2/routeTable:RouteTable"))]);
    });

    it("lets the function out to the broker port of the kafka host and HTTPS to S3 only, and lets it into the broker", () => {
      const group = securityGroup(`${MODULE}-function`);
      assert.equal(group.inputs.egress, undefined);
      assert.equal(group.inputs.ingress, undefined);
      const kafkaGroup = idOf(securityGroup(`${NAME}-kafka`));
      const egress = ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").filter((r) => r.inputs.securityGroupId === idOf(group));
      const shape = (r: Registered) => ({
        ipProtocol: r.inputs.ipProtocol, fromPort: r.inputs.fromPort, toPort: r.inputs.toPort,
        to: r.inputs.referencedSecurityGroupId ?? r.inputs.prefixListId ?? r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6,
      });
      assert.deepEqual(egress.map(shape).sort((a, b) => Number(a.fromPort) - Number(b.fromPort)), [
        { ipProtocol: "tcp", fromPort: 443, toPort: 443, to: "pl-6da54004" },
        { ipProtocol: "tcp", fromPort: 9092, toPort: 9092, to: kafkaGroup },
      ]);
      const ingress = (resources: Registered[]) => resources.filter((r) => r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
      const offNames = new Set(ingress(off).map((r) => r.name));
      const added = ingress(on).filter((r) => !offNames.has(r.name));
      assert.deepEqual(added.map((r) => ({ into: r.inputs.securityGroupId, ...shape(r) })), [
        { into: kafkaGroup, ipProtocol: "tcp", fromPort: 9092, toPort: 9092, to: idOf(group) },
      ]);
      assert.equal(ingress(on).length, ingress(off).length + 1);
    });

    it("parents every resource it adds to the CloudTrail component, so the module comes and goes as one", () => {
      const component = single("logplatform:index:CloudTrail");
      assert.equal(component.name, MODULE);
      const offNames = new Set(off.map((r) => r.name));
      const added = on.filter((r) => !offNames.has(r.name) && r !== component);
      assert.deepEqual(added.map((r) => r.type.split(":")[1]).sort(), [
        "cloudtrail/trail", "cloudwatch/logGroup", "cloudwatch/metricAlarm", "ec2/securityGroup", "ec2/vpcEndpoint", "iam/role", "iam/rolePolicy",
        "kms/key", "lambda/function", "lambda/functionEventInvokeConfig", "lambda/permission", "s3/bucket", "s3/bucketLifecycleConfiguration", "s3/bucketNotification",
        "s3/bucketOwnershipControls", "s3/bucketPolicy", "s3/bucketPublicAccessBlock", "s3/bucketServerSideEncryptionConfiguration",
        "sns/topic", "sns/topicPolicy",
        // The alarm topic's e-mail subscription exists when index.ts gives the module an address (alertEmail.to);
        // test/unit/cloudtrail-failures.test.ts holds both cases.
        ...(on.some((r) => r.type === "aws:sns/topicSubscription:TopicSubscription") ? ["sns/topicSubscription"] : []),
        "sqs/queue", "vpc/securityGroupEgressRule", "vpc/securityGroupEgressRule", "vpc/securityGroupIngressRule",
      ]);
      for (const resource of added) assert.ok(resource.urn.includes("logplatform:index:CloudTrail$"), `${resource.name}: ${resource.urn}`);
    });
  });
});
