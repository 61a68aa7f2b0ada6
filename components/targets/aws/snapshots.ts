import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/** The tag key by which the snapshot policy finds the stack's data volumes; its value is the stack's name. */
export const DATA_VOLUME_TAG = "PlatformDataVolume";

/** When the daily snapshots start (UTC): DLM takes them within the hour after. */
export const SNAPSHOT_TIME_UTC = "03:00";

export interface DataSnapshotsArgs {
  /** The value of DATA_VOLUME_TAG on every data volume of the stack. */
  volumeTagValue: string;
  /** Days each snapshot is kept, at least 1. */
  retainDays: number;
}

/**
 * A daily snapshot of every data volume of the stack, kept `retainDays` days: Amazon Data Lifecycle Manager, with the
 * service role AWS publishes for it. Deleting the policy (`dataSnapshotDays` 0, `pulumi destroy`) keeps the
 * snapshots already taken; DLM no longer deletes them (see the README on restoring).
 */
export class DataSnapshots extends pulumi.ComponentResource {
  public readonly policy: aws.dlm.LifecyclePolicy;

  constructor(name: string, args: DataSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:DataSnapshots", name, {}, opts);
    const parent = { parent: this };
    const partition = aws.getPartitionOutput({}, parent).partition;
    const role = new aws.iam.Role(`${name}-dlm`, {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    }, parent);
    const access = new aws.iam.RolePolicyAttachment(`${name}-dlm`, {
      role: role.name,
      policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole`,
    }, parent);
    this.policy = new aws.dlm.LifecyclePolicy(name, {
      description: `Daily snapshots of ${args.volumeTagValue}'s data volumes, kept ${args.retainDays} days`,
      executionRoleArn: role.arn,
      state: "ENABLED",
      policyDetails: {
        resourceTypes: ["VOLUME"],
        targetTags: { [DATA_VOLUME_TAG]: args.volumeTagValue },
        schedules: [{
          name: "daily",
          createRule: { interval: 24, intervalUnit: "HOURS", times: SNAPSHOT_TIME_UTC },
          retainRule: { interval: args.retainDays, intervalUnit: "DAYS" },
          // The volume's tags (Name, Role) say which host a snapshot is of.
          copyTags: true,
        }],
      },
    }, { ...parent, dependsOn: [access] });
    this.registerOutputs({ policyArn: this.policy.arn });
  }
}
