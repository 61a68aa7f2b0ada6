// Loaded by the CloudTrail module's tests: the failure queue, the alarm topic, its key and the alarm answer on the
// Pulumi mocks with AWS-shaped names, ARNs and URLs (test/setup.ts answers the module's other resources), so that the
// tests can follow each reference. Only the module registers these types.
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { MOCK_ACCOUNT_ID, Registered } from "../setup";

const REGION = "eu-west-1";

/** A statement of an IAM, bucket or topic policy. */
export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

/** The statements of a registered policy resource's `policy` input. */
export const statementsOf = (resource: Registered): Statement[] =>
  (JSON.parse(resource.inputs.policy as string) as { Statement: Statement[] }).Statement;

export const mockQueueUrl = (name: string) => `https://sqs.${REGION}.amazonaws.com/${MOCK_ACCOUNT_ID}/${name}`;
export const mockQueueArn = (name: string) => `arn:aws:sqs:${REGION}:${MOCK_ACCOUNT_ID}:${name}`;
export const mockTopicArn = (name: string) => `arn:aws:sns:${REGION}:${MOCK_ACCOUNT_ID}:${name}`;
export const mockKeyArn = (name: string) => `arn:aws:kms:${REGION}:${MOCK_ACCOUNT_ID}:key/${name}-id`;
export const mockAlarmArn = (name: string) => `arn:aws:cloudwatch:${REGION}:${MOCK_ACCOUNT_ID}:alarm:${name}`;

type NewResource = pulumi.runtime.Mocks["newResource"];
const monitor = settings.getMonitor() as unknown as { mocks?: { newResource: NewResource }; cloudtrailFailureMocks?: true };
if (!monitor.mocks) throw new Error("test/setup.ts did not install the Pulumi mocks");
if (!monitor.cloudtrailFailureMocks) {
  monitor.cloudtrailFailureMocks = true;
  const mocks = monitor.mocks;
  const original = mocks.newResource.bind(mocks);
  mocks.newResource = async (args) => {
    const result = await original(args);
    const state = (result.state ?? {}) as Record<string, unknown>;
    switch (args.type) {
      case "aws:sqs/queue:Queue":
        Object.assign(state, { name: args.name, arn: mockQueueArn(args.name), url: mockQueueUrl(args.name) });
        break;
      case "aws:sns/topic:Topic":
        Object.assign(state, { name: args.name, arn: mockTopicArn(args.name) });
        break;
      case "aws:kms/key:Key":
        Object.assign(state, { keyId: `${args.name}-id`, arn: mockKeyArn(args.name) });
        break;
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        Object.assign(state, { name: args.name, arn: mockAlarmArn(args.name) });
        break;
    }
    return { ...result, state };
  };
}
