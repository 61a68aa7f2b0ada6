import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import Ajv, { JSONSchemaType } from "ajv";
import { renderDotEnv } from "../components/bundles/env";
import { INGEST_PLATFORM_SOURCE } from "../components/platform/ingest-sources";
import { REPO_ROOT } from "../components/platform/repo";
import { IMAGE_VERSIONS } from "../components/platform/versions";
import { chooseStack, stackOutputs } from "../local/pulumi";
import { INGEST_CREDENTIALS_SCHEMA, INGEST_SCHEMA, IngestCredentials, IngestOutput } from "../verify/outputs";
import { UsageError, commandFailed } from "../local/cli";

export const USAGE = `usage: npm run forwarder:folder -- <source> [directory] [--stack <name>] [--force]
Writes a ready folder for one of the stack's log sources (default ./log-forwarder-<source>): compose.yaml,
fluent-bit.yaml and docker-metadata.lua (a Fluent Bit that tails the Docker host's containers' logs and takes Docker's
fluentd log driver on 127.0.0.1), ca.crt, README.txt, and .env with the ingest endpoint's address and this source's
secrets (mode 0600, the folder 0700). Copy it to any Linux Docker host and run \`docker compose up -d\` there.
  <source>        a source the stack accepts (config logSources; the stack output ingest.sources)
  --stack <name>  the stack (default: the local stack when npm run local has state here, else the selected one)
  --force         write into a directory that is not empty (its files of the same names are replaced)`;

/** The template files copied as they are (user-forwarder/); .env, ca.crt are written from the stack's outputs. */
export const TEMPLATE_FILES = ["compose.yaml", "fluent-bit.yaml", "docker-metadata.lua", "README.txt"] as const;
export const TEMPLATE_DIR = path.join(REPO_ROOT, "user-forwarder");

/** The forward port Docker's fluentd log driver finds on a host's loopback by default. */
export const LOCAL_FORWARD_PORT = 24224;

export interface FolderOutputs {
  ingest: IngestOutput;
  ingestCredentials: IngestCredentials;
}

const validate = new Ajv({ allErrors: true }).compile({
  type: "object",
  properties: { ingest: INGEST_SCHEMA, ingestCredentials: INGEST_CREDENTIALS_SCHEMA },
  required: ["ingest", "ingestCredentials"],
} as unknown as JSONSchemaType<FolderOutputs>);

/** The outputs the folder is made of, naming what is missing or malformed (e.g. a stack from an older program). */
export function parseFolderOutputs(raw: unknown): FolderOutputs {
  if (validate(raw)) return raw;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  throw new Error(`the stack outputs lack the ingest endpoint's: ${problems.join("; ")}. Run \`pulumi up\` with this version of the program first.`);
}

/** An endpoint on this machine's loopback: the docker target's. */
const onLoopback = (ingest: IngestOutput): boolean => /^127\./.test(ingest.address) || ingest.address === "localhost";

/** The .env of a source's folder: the endpoint, the image version, the source's credentials. */
export function folderEnv(outputs: FolderOutputs, source: string): Record<string, string> {
  const { ingest, ingestCredentials } = outputs;
  const credentials = ingestCredentials.sources[source];
  if (!ingest.sources.includes(source) || !credentials) {
    const others = ingest.sources.filter((s) => s !== INGEST_PLATFORM_SOURCE && s in ingestCredentials.sources);
    throw new UsageError(`the stack has no log source ${source}; it has ${others.join(", ") || "none but its own"} (config logSources)`);
  }
  // On the docker target the endpoint is this machine's loopback: the forwarder (host networking) then cannot take
  // the same port for the log driver.
  const localPort = onLoopback(ingest) && ingest.forwardPort === LOCAL_FORWARD_PORT ? LOCAL_FORWARD_PORT + 1 : LOCAL_FORWARD_PORT;
  return {
    FLUENT_BIT_VERSION: IMAGE_VERSIONS.FLUENT_BIT_VERSION,
    FORWARD_HOST: ingest.address,
    FORWARD_PORT: String(ingest.forwardPort),
    FORWARD_USERNAME: source,
    FORWARD_PASSWORD: credentials.password,
    SHARED_KEY: ingestCredentials.sharedKey,
    HOST_NAME: "",
    LOCAL_FORWARD_PORT: String(localPort),
  };
}

const ENV_HEADER = (source: string) => `# The ingest endpoint and the credentials of source ${source}, written by \`npm run forwarder:folder\`. Secret:
# keep this file to yourself. HOST_NAME: the host.name of this host's records (empty: the Docker host's own name).
# LOCAL_FORWARD_PORT: where Docker's fluentd log driver reaches the forwarder on 127.0.0.1.
`;

/** Writes the folder: the templates, ca.crt and .env, the folder 0700 and .env 0600. Returns the files written. */
export function writeFolder(outputs: FolderOutputs, source: string, dir: string, opts: { force?: boolean; templates?: string } = {}): string[] {
  const env = folderEnv(outputs, source);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0 && !opts.force) {
    throw new UsageError(`${dir} exists and is not empty: name another directory, or add --force to rewrite its files`);
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const written: string[] = [];
  const write = (name: string, content: string | Buffer, mode: number) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode); // an existing file keeps its mode otherwise
    written.push(name);
  };
  for (const name of TEMPLATE_FILES) write(name, fs.readFileSync(path.join(opts.templates ?? TEMPLATE_DIR, name)), 0o644);
  const ca = outputs.ingest.caCertificate;
  write("ca.crt", ca.endsWith("\n") ? ca : `${ca}\n`, 0o644);
  write(".env", ENV_HEADER(source) + renderDotEnv(env), 0o600);
  return written;
}

export interface Deps {
  /** The stack's outputs (the Pulumi CLI by default). */
  outputs?: (stack: string | undefined) => Promise<unknown>;
  /** Where a relative directory is taken from: the folder npm was started in (INIT_CWD), else this process's. */
  cwd?: string;
  print?: (line: string) => void;
}

/** Writes the folder and returns the exit code: 0 written, 1 the stack could not be read, 2 a wrong command line. */
export async function main(argv: string[], deps: Deps = {}): Promise<number> {
  const print = deps.print ?? ((line: string) => console.log(line));
  let source: string;
  let dir: string;
  let values: { stack?: string; force?: boolean; help?: boolean };
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { stack: { type: "string", short: "s" }, force: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    values = parsed.values;
    if (values.help) {
      print(USAGE);
      return 0;
    }
    if (parsed.positionals.length < 1 || parsed.positionals.length > 2) throw new UsageError("name one source, and at most one directory");
    source = parsed.positionals[0];
    if (source === INGEST_PLATFORM_SOURCE) throw new UsageError(`${INGEST_PLATFORM_SOURCE} is the stack's own source (npm run verify): name one of config logSources`);
    dir = path.resolve(deps.cwd ?? process.env.INIT_CWD ?? process.cwd(), parsed.positionals[1] ?? `log-forwarder-${source}`);
  } catch (err) {
    // Every problem of the command line, parseArgs' own too, is a wrong command line.
    return commandFailed("forwarder:folder", err instanceof UsageError ? err : new UsageError((err as Error).message), USAGE, print);
  }
  try {
    const read = deps.outputs ?? ((stack) => stackOutputs(REPO_ROOT, chooseStack(REPO_ROOT, stack)));
    const outputs = parseFolderOutputs(await read(values.stack));
    const written = writeFolder(outputs, source, dir, { force: values.force });
    const env = folderEnv(outputs, source);
    print(`Wrote ${dir}: ${written.join(", ")}`);
    print(`Source ${source}, endpoint ${env.FORWARD_HOST}:${env.FORWARD_PORT} (TLS; the shared key and this source's password are in .env, mode 0600).`);
    print(`Copy the folder to a Linux Docker host and run there: docker compose up -d   (Docker's fluentd log driver: fluentd-address=127.0.0.1:${env.LOCAL_FORWARD_PORT})`);
    if (outputs.ingest.allowedCidrs.length === 0 && !onLoopback(outputs.ingest)) {
      print("Note: the endpoint accepts no address yet (config logSourceCidrs is empty): add the host's public address, then pulumi up.");
    }
    return 0;
  } catch (err) {
    return commandFailed("forwarder:folder", err, USAGE, print);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
