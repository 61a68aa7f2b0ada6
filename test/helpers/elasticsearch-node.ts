import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client, errors } from "@elastic/elasticsearch";
import { EnvFacts } from "../../components/bundles/env";
import { ES_ACCOUNTS, EsAccount } from "../../components/credentials/elasticsearch";
import { PORTS } from "../../components/platform/ports";
import { REPO_ROOT } from "../../components/platform/repo";
import { ONE_OF_EACH } from "../../components/platform/topology";
import { healthcheckCommand, serviceEnvironment } from "./compose";
import { issueNodeCertificate, makeTestPki, TestPki } from "./es-tls";
import { SAMPLE_FACTS, sampleEnv, sampleMembers } from "./sample-facts";
import { waitFor } from "./local-servers";

/**
 * Real Elasticsearch nodes on loopback, one JVM each, built from the server and x-pack jars on Maven Central
 * (test/elasticsearch: `StartLoopbackNode` configures a node from its environment the way the official image does).
 * Each member's container environment, as compose renders it from the program's `.env`, goes through the bundle's
 * own `elasticsearch/start.sh`, which execs the node: an unknown or misspelt setting fails here as in the container.
 * What the node lacks (ILM's execution, Painless, the analysis-common module) is listed in test/elasticsearch/pom.xml.
 */

const PROJECT_DIR = path.join(REPO_ROOT, "test", "elasticsearch");
const CLASSES_DIR = path.join(PROJECT_DIR, "target", "classes");
const LIB_DIR = path.join(PROJECT_DIR, "target", "lib");
const BUILD_COMMAND = "mvn -q -B -f test/elasticsearch/pom.xml package";
const START_SCRIPT = path.join(REPO_ROOT, "hosts", "logging", "elasticsearch", "start.sh");
/** The heap of each test node, in place of ES_HEAP_SIZE (sized from an instance's memory): the test machine's budget. */
const TEST_HEAP = "320m";
const READY_TIMEOUT_MS = 120_000;

/** Fails, saying what to install or run, unless Java and the built test node are on this machine. */
export function requireElasticsearchNode(): void {
  if (spawnSync("java", ["-version"]).error) {
    assert.fail("java is not installed: apt-get install openjdk-17-jdk-headless (listed in .ci/apt-packages.txt)");
  }
  if (!fs.existsSync(path.join(CLASSES_DIR, "org", "elasticsearch", "node", "StartLoopbackNode.class")) || !fs.existsSync(LIB_DIR)) {
    assert.fail(`the Elasticsearch test node is not built in ${path.relative(REPO_ROOT, PROJECT_DIR)}/target: run \`${BUILD_COMMAND}\` ` +
      "(Maven and a JDK: apt-get install maven openjdk-17-jdk-headless, listed in .ci/apt-packages.txt; .ci/run does it)");
  }
}

/**
 * The program's deploy-time facts for `count` logging members on 127.0.0.<first>, <first + 1>... (every other host on
 * 127.0.0.1). All of 127.0.0.0/8 is loopback, so each member listens on the bundle's own ports at its own address.
 */
export function loopbackLoggingFacts(count = 1, first = 1): EnvFacts {
  const counts = { ...ONE_OF_EACH, logging: count };
  return {
    ...SAMPLE_FACTS,
    members: sampleMembers(counts, (role, index) => (role === "logging" ? `127.0.0.${first + index}` : "127.0.0.1")),
    elasticsearchShards: count,
  };
}

/** An account's password in the sample facts. */
export const passwordOf = (account: EsAccount, facts: EnvFacts = SAMPLE_FACTS): string => facts.elasticsearchPasswords[account];

interface Member {
  name: string;
  ip: string;
  home: string;
  data: string;
  log: string;
  process?: ChildProcess;
}

/**
 * The logging members of `facts` as nodes, none started: `start(i)` runs member i through start.sh, `stop(i)` stops it
 * the way `docker compose stop` does (SIGTERM), keeping its data path for the next start.
 */
export class ElasticsearchNodes {
  readonly pki: TestPki;
  readonly dir: string;
  private readonly ownPki: boolean;
  private readonly members: Member[];

  /**
   * `pki`: the CA of nodes that must trust each other across two sets (a cluster grown from one node), kept by the
   * caller; by default one of its own. The members' homes (config/certs, data) are `<dir>/<member name>`.
   */
  constructor(readonly facts: EnvFacts, options: { pki?: TestPki; dir?: string } = {}) {
    requireElasticsearchNode();
    this.dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "es-nodes-"));
    this.ownPki = options.pki === undefined;
    this.pki = options.pki ?? makeTestPki();
    this.members = facts.members.logging.map((member) => {
      const home = path.join(this.dir, member.name);
      issueNodeCertificate(this.pki, member.name, member.privateIp, path.join(home, "config", "certs"));
      // The container's data path always exists (the es-data volume): start.sh writes its markers there first.
      const data = path.join(home, "data");
      fs.mkdirSync(data, { recursive: true });
      return { name: member.name, ip: member.privateIp, home, data, log: path.join(this.dir, `${member.name}.log`) };
    });
  }

  get size(): number {
    return this.members.length;
  }

  url(index = 0): string {
    return `https://${this.members[index].ip}:${PORTS.elasticsearch}`;
  }

  name(index = 0): string {
    return this.members[index].name;
  }

  dataPath(index = 0): string {
    return this.members[index].data;
  }

  /** The node's output so far (start.sh's decision first), for a failing assertion to show. */
  log(index = 0): string {
    return fs.existsSync(this.members[index].log) ? fs.readFileSync(this.members[index].log, "utf8") : "";
  }

  /** The member's `.env`, as the program renders it for these facts. */
  dotEnv(index = 0): Record<string, string> {
    return sampleEnv("logging", index, this.facts);
  }

  /**
   * The environment start.sh and the node get: the `elasticsearch` service's environment as compose renders it, plus
   * only what the container has from elsewhere. `network.host` (the image's elasticsearch.yml binds 0.0.0.0; here each
   * member binds its own loopback address), `path.data` (the image's data volume; start.sh reads it as ES_DATA_DIR) and
   * ES_CA (start.sh's default is the image's config folder).
   */
  environment(index = 0): Record<string, string> {
    const member = this.members[index];
    const { PATH = "/usr/bin:/bin", JAVA_HOME } = process.env;
    return {
      PATH,
      ...(JAVA_HOME ? { JAVA_HOME } : {}),
      ...serviceEnvironment("logging", "elasticsearch", this.dotEnv(index)),
      "network.host": member.ip,
      "path.data": member.data,
      ES_DATA_DIR: member.data,
      ES_CA: path.join(member.home, "config", "certs", "ca.crt"),
    };
  }

  /** Starts member `index` through start.sh; resolves once its HTTPS port answers (a 401 included). */
  async start(index = 0, extraEnvironment: Record<string, string> = {}): Promise<void> {
    const member = this.members[index];
    assert.equal(member.process, undefined, `${member.name} is already running`);
    const classpath = [CLASSES_DIR, ...fs.readdirSync(LIB_DIR).map((jar) => path.join(LIB_DIR, jar))].join(path.delimiter);
    const java = ["java", `-Xms${TEST_HEAP}`, `-Xmx${TEST_HEAP}`, `-Des.path.home=${member.home}`, `-Des.path.conf=${path.join(member.home, "config")}`,
      "-cp", classpath, "org.elasticsearch.node.StartLoopbackNode"];
    const log = fs.openSync(member.log, "a");
    const child = spawn("bash", [START_SCRIPT, ...java], { env: { ...this.environment(index), ...extraEnvironment }, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    member.process = child;
    const exited = new Promise<never>((_, reject) => child.once("exit", (code) => {
      member.process = undefined;
      reject(new Error(`${member.name} exited (${code}) before it answered:\n${this.log(index).slice(-3000)}`));
    }));
    exited.catch(() => undefined); // a later exit (a stop) is no failure of the start
    await Promise.race([
      exited,
      waitFor(`${member.name} to answer on ${this.url(index)} (log: ${member.log})`, READY_TIMEOUT_MS,
        async () => (await fetchStatus(this.url(index), this.pki.caFile)) !== undefined),
    ]);
  }

  /**
   * Runs the service's own compose healthcheck once, as the container would: in the node's home (the image's working
   * directory, so `config/certs` and `data/` are the member's), with its environment. The only change: `localhost`
   * becomes the member's loopback address, where this node listens. True when it passes.
   */
  healthcheck(index = 0): boolean {
    const member = this.members[index];
    const [kind, command] = healthcheckCommand("logging", "elasticsearch", this.dotEnv(index));
    assert.equal(kind, "CMD-SHELL", "the elasticsearch healthcheck is a CMD-SHELL command");
    const result = spawnSync("sh", ["-c", command.replace(/\blocalhost\b/g, member.ip)], { cwd: member.home, env: this.environment(index), timeout: 15_000 });
    return result.status === 0;
  }

  /** Polls the healthcheck until it passes, as `depends_on: service_healthy` waits for it. */
  async waitHealthy(index = 0, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await waitFor(`${this.name(index)}'s compose healthcheck to pass (log: ${this.members[index].log})`, timeoutMs, async () => this.healthcheck(index));
  }

  /** Stops member `index` as `docker compose stop` does: SIGTERM, then SIGKILL after the 10 s grace period. */
  async stop(index = 0): Promise<void> {
    const child = this.members[index].process;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000).then(() => child.kill("SIGKILL"))]);
    await exited;
  }

  /** A client of member `index`'s HTTPS endpoint as `account` (elastic by default), trusting the test CA only. */
  client(account: EsAccount = "elastic", index = 0): Client {
    return new Client({
      node: this.url(index),
      auth: { username: ES_ACCOUNTS[account], password: passwordOf(account, this.facts) },
      tls: { ca: fs.readFileSync(this.pki.caFile) },
      maxRetries: 0,
      requestTimeout: 30_000,
    });
  }

  /** Stops every member; with `keep`, leaves their folders (for another set over the same homes), else removes them. */
  async close(keep = false): Promise<void> {
    await Promise.all(this.members.map((_, index) => this.stop(index)));
    if (keep) return;
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.ownPki) this.pki.cleanup();
  }
}

/** The HTTP status of GET / on an HTTPS node trusting `caFile`, or undefined without an answer. */
async function fetchStatus(url: string, caFile: string): Promise<number | undefined> {
  const result = spawnSync("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", caFile, "--max-time", "3", `${url}/`], { encoding: "utf8" });
  const status = Number(result.stdout);
  return result.status === 0 && status > 0 ? status : undefined;
}

/** The HTTP status of an Elasticsearch client error or bulk item (403 for a refused call); rethrows anything else. */
export function statusOf(error: unknown): number {
  if (error instanceof errors.ResponseError) return error.statusCode ?? 0;
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === "number") return status;
  throw error;
}
