import { parseArgs } from "node:util";
import Ajv, { JSONSchemaType } from "ajv";
import { SQSClient } from "@aws-sdk/client-sqs";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { REPO_ROOT } from "../components/platform/repo";
import { OutputsSource, pulumiOutputs } from "../verify/outputs";
import { DEFAULT_REPLAY_OPTIONS, replayFailures, ReplayClients, ReplayOptions, ReplayTarget, summary } from "./replay";

export const USAGE = `usage: npm run cloudtrail:replay -- [stack] [--max <n>]
Replays the CloudTrail log files the function failed on (default: the selected Pulumi stack): receives the messages of
the failure queue (the stack output cloudtrail.failureQueueUrl), re-invokes the function asynchronously with each
message's event, and deletes a message once Lambda accepted its invocation. Stops when the queue is empty or after
--max messages (default ${DEFAULT_REPLAY_OPTIONS.max}). AWS credentials as for the AWS CLI (AWS_PROFILE, ...); needs
sqs:ReceiveMessage and sqs:DeleteMessage on the queue and lambda:InvokeFunction on the function.
Exit codes: 0 every message received was replayed (none: an empty queue), 1 some were left in the queue or a receive
failed, 2 bad arguments or stack outputs.`;

const schema = {
  type: "object",
  properties: {
    cloudtrail: {
      type: "object",
      properties: {
        region: { type: "string", minLength: 1 },
        functionName: { type: "string", minLength: 1 },
        failureQueueUrl: { type: "string", pattern: "^https://" },
      },
      required: ["region", "functionName", "failureQueueUrl"],
    },
  },
  required: ["cloudtrail"],
} as unknown as JSONSchemaType<{ cloudtrail: ReplayTarget }>;

const validate = new Ajv({ allErrors: true }).compile(schema);

/** The outputs the replay reads, naming what is missing (the module off, or a stack from an older program version). */
export function parseReplayOutputs(raw: unknown): ReplayTarget {
  if (validate(raw)) return raw.cloudtrail;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  throw new Error(`the stack outputs lack the CloudTrail module's: ${problems.join("; ")}. ` +
    "The module must be on (cloudtrail: true, target aws) and deployed with this version of the program (`pulumi up`).");
}

export function parseCommandLine(argv: string[]): { stack?: string; max: number; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { max: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (positionals.length > 1) throw new Error(`one stack name at most, got ${positionals.join(" ")}`);
  const max = values.max === undefined ? DEFAULT_REPLAY_OPTIONS.max : Number(values.max);
  if (!Number.isInteger(max) || max <= 0) throw new Error(`--max must be a positive whole number, got ${JSON.stringify(values.max)}`);
  return { stack: positionals[0], max, help: values.help ?? false };
}

export interface Deps {
  outputs?: (stack: string | undefined) => OutputsSource;
  /** The AWS clients for the stack's region; the SDK's default credential chain by default. */
  clients?: (region: string) => ReplayClients;
  print?: (line: string) => void;
  options?: Partial<ReplayOptions>;
}

/** Replays the failure queue once and returns the exit code. */
export async function main(argv: string[], deps: Deps = {}): Promise<number> {
  const print = deps.print ?? ((line: string) => console.log(line));
  let target: ReplayTarget;
  let max: number;
  try {
    const command = parseCommandLine(argv);
    if (command.help) {
      print(USAGE);
      return 0;
    }
    max = command.max;
    target = parseReplayOutputs(await (deps.outputs ?? ((s) => pulumiOutputs(REPO_ROOT, s)))(command.stack).read());
  } catch (err) {
    print(`cloudtrail:replay: ${(err as Error).message}`);
    print(USAGE);
    return 2;
  }
  const clients = (deps.clients ?? ((region) => ({ sqs: new SQSClient({ region }), lambda: new LambdaClient({ region }) })))(target.region);
  print(`Replaying at most ${max} messages of ${target.failureQueueUrl} into ${target.functionName}`);
  const counts = await replayFailures(target, clients, { ...DEFAULT_REPLAY_OPTIONS, ...deps.options, max }, print);
  print(summary(counts));
  return counts.replayed === counts.received && counts.receiveError === undefined ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
