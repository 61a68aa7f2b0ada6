import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { Role } from "../platform/roles";
import { quote } from "../platform/shell";

/** Each host checks its own stage, in the order a log travels; the first stage with nothing fails the deploy. */
export const PIPELINE_STAGE_ORDER: Role[] = ["web", "kafka", "logging"];

export interface PipelineStage {
  role: Role;
  connection: types.input.remote.ConnectionArgs;
  /** The bundle folder on the host, which holds `checks/pipeline.sh` and the `.env`. */
  directory: string;
}

export interface PipelineCheckArgs {
  stages: PipelineStage[];
  /** Re-run the check whenever any bundle changed. */
  bundleHashes: pulumi.Input<string>[];
  /** Every bundle's `up` step: the check starts once the whole platform is up. */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * The deploy's last step: proves that gateway logs reach Elasticsearch. Each stage's script waits a bounded time and
 * fails with one line naming the stage that has nothing (gateway log, forwarder output, topic, aggregator, index).
 */
export class PipelineCheck extends pulumi.ComponentResource {
  public readonly stdout: pulumi.Output<string>;

  constructor(name: string, args: PipelineCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:PipelineCheck", name, {}, opts);
    let previous: pulumi.Input<pulumi.Resource>[] = args.dependsOn;
    let last: remote.Command | undefined;
    for (const stage of args.stages) {
      last = new remote.Command(`${name}-${stage.role}`, {
        connection: stage.connection,
        create: `cd ${quote(stage.directory)} && bash checks/pipeline.sh`,
        triggers: args.bundleHashes,
      }, { parent: this, dependsOn: previous });
      previous = [last];
    }
    if (!last) throw new Error("PipelineCheck needs at least one stage");
    this.stdout = last.stdout;
    this.registerOutputs({ stdout: this.stdout });
  }
}
