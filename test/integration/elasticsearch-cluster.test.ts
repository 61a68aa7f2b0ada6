import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client, errors } from "@elastic/elasticsearch";
import { REPO_ROOT } from "../../components/platform/repo";
import { TLS_FILES } from "../../components/credentials/tls";
import { assembleBundle } from "../helpers/assemble-bundle";
import { serviceEnvironment } from "../helpers/compose";
import { ElasticsearchNodes, loopbackLoggingFacts } from "../helpers/elasticsearch-node";
import { waitFor } from "../helpers/local-servers";

/**
 * The logging bundle's cluster scripts against three real Elasticsearch nodes (test/helpers/elasticsearch-node.ts)
 * on 127.0.0.21, .22 and .23 (other tests' nodes and stand-ins listen on 127.0.0.1 to .3 and .11, maybe at the same
 * time), with TLS transport between them: elasticsearch/start.sh's decision on each start
 * (founding, joining a formed cluster, a single node grown to three, a node restarted after the formation), read from
 * its `start:` line and checked against what the nodes then report, and cluster/gate.sh run from each member's
 * assembled bundle folder: it fails within its bound while a member's node is stopped, passes once the restarted
 * node's shards are started, and an index with a replica keeps every document. The `it`s of a `describe` share its
 * nodes and run in order, as the deploy's roll does; every node is stopped by the `after` of its `describe`.
 */

const FIRST_ADDRESS = 21;
const LOGGING_DIR = path.join(REPO_ROOT, "hosts", "logging");
const START_SCRIPT = path.join(LOGGING_DIR, "elasticsearch", "start.sh");
const SECURITY_SCRIPT = path.join(LOGGING_DIR, "setup", "security", "security.sh");
/** The gate's bound in the cases where it must fail, and how often it asks meanwhile. */
const SHORT_GATE = { timeout: 5, interval: 1 };
/** The gate's bound where it must pass: the roll's is 600 s, a test's cluster settles in well under a minute. */
const LONG_GATE = { timeout: 120, interval: 1 };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(command: string, args: string[], options: { env: Record<string, string>; cwd?: string; timeoutMs: number }): Promise<Result> {
  const begun = Date.now();
  return new Promise((resolve) => {
    execFile(command, args, { env: options.env, cwd: options.cwd, timeout: options.timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr, seconds: (Date.now() - begun) / 1000 });
    });
  });
}

/** start.sh's decisions in member `index`'s output so far, one per start of a cluster node, oldest first. */
const decisions = (nodes: ElasticsearchNodes, index: number): string[] => nodes.log(index).split("\n").filter((line) => line.startsWith("start:"));

/** One call as elastic on member `index`: its status and body, an error answer included. */
async function ask<T = Record<string, unknown>>(nodes: ElasticsearchNodes, index: number, method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; body: T }> {
  const client: Client = nodes.client("elastic", index);
  try {
    const answer = await client.transport.request({ method, path: pathAndQuery, body: body as Record<string, unknown> | undefined }, { meta: true });
    return { status: answer.statusCode ?? 0, body: answer.body as T };
  } catch (error) {
    if (error instanceof errors.ResponseError) return { status: error.statusCode ?? 0, body: error.body as T };
    throw error;
  } finally {
    await client.close();
  }
}

/** The cluster UUID member `index` reports on GET / ("_na_" until it is in a formed cluster). */
async function clusterUuid(nodes: ElasticsearchNodes, index: number): Promise<string> {
  const answer = await ask<{ cluster_uuid: string }>(nodes, index, "GET", "/");
  assert.equal(answer.status, 200, `GET / on ${nodes.name(index)}: ${JSON.stringify(answer.body)}`);
  return answer.body.cluster_uuid;
}

/** Waits until every member of `indices` reports the same formed cluster; returns its UUID. */
async function formedCluster(nodes: ElasticsearchNodes, indices: number[]): Promise<string> {
  let uuids: string[] = [];
  await waitFor(`${indices.map((i) => nodes.name(i)).join(", ")} to report one formed cluster`, 60_000, async () => {
    uuids = await Promise.all(indices.map((i) => clusterUuid(nodes, i)));
    return uuids[0] !== "_na_" && uuids.every((uuid) => uuid === uuids[0]);
  });
  return uuids[0];
}

/** The node names in member `index`'s _cat/nodes, sorted. */
async function catNodes(nodes: ElasticsearchNodes, index: number): Promise<string[]> {
  const answer = await ask<{ name: string }[]>(nodes, index, "GET", "/_cat/nodes?h=name&format=json");
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.map((node) => node.name).sort();
}

/**
 * A script of member `index`'s cluster/ folder, from its bundle folder as the program lays it out (its `.env`, the CA
 * at tls/ca.crt). Its "local" node is the member's own address (ES_GATE_LOCAL_URL): on a host that is 127.0.0.1, here
 * each member listens on its own loopback address. The host's curl answers; DOCKER stands in for `docker compose exec
 * -T elasticsearch <command>` (how the gate reads the node's data path markers) by running the command in the
 * member's home, its data path as ES_DATA_DIR, and refuses any other docker call.
 */
async function clusterScript(nodes: ElasticsearchNodes, index: number, script: string, args: string[], env: Record<string, string>, timeoutSeconds: number,
  dotEnv: Record<string, string> = {}): Promise<Result> {
  const bundle = await assembleBundle("logging", { env: { ...nodes.dotEnv(index), ...dotEnv } });
  try {
    fs.copyFileSync(nodes.pki.caFile, path.join(bundle, TLS_FILES.caCert));
    const docker = path.join(bundle, "docker-stand-in");
    fs.writeFileSync(docker, [
      "#!/usr/bin/env bash",
      `[[ "$1 $2 $3 $4" == "compose exec -T elasticsearch" ]] || { echo "unexpected docker call: $*" >&2; exit 1; }`,
      "shift 4",
      `cd ${JSON.stringify(path.dirname(nodes.dataPath(index)))} && ES_DATA_DIR=${JSON.stringify(nodes.dataPath(index))} exec "$@"`,
    ].join("\n") + "\n", { mode: 0o755 });
    return await run("bash", [path.join(bundle, "cluster", script), ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ES_GATE_LOCAL_URL: nodes.url(index), DOCKER: docker, ...env },
      cwd: bundle,
      timeoutMs: (timeoutSeconds + 60) * 1000,
    });
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

/** cluster/gate.sh of member `index` (clusterScript), within `bound`. */
function gate(nodes: ElasticsearchNodes, index: number, bound: { timeout: number; interval: number }, dotEnv: Record<string, string> = {}): Promise<Result> {
  const env = { ES_GATE_TIMEOUT: String(bound.timeout), ES_GATE_INTERVAL: String(bound.interval) };
  return clusterScript(nodes, index, "gate.sh", [], env, bound.timeout, dotEnv);
}

/** cluster/allocation.sh `mode` of member `index` (clusterScript), within `bound`. */
function allocation(nodes: ElasticsearchNodes, index: number, mode: "primaries" | "all", bound: { timeout: number; interval: number }): Promise<Result> {
  const env = { ES_ALLOCATION_TIMEOUT: String(bound.timeout), ES_ALLOCATION_INTERVAL: String(bound.interval) };
  return clusterScript(nodes, index, "allocation.sh", [mode], env, bound.timeout);
}

/**
 * start.sh of member `index` with `env` in place of the image's entrypoint, so it prints the settings the node would
 * get, without starting one: its decision against the real members that are up. Its data path is a new empty folder.
 */
async function startSettings(nodes: ElasticsearchNodes, index: number, overrides: Record<string, string>): Promise<{ result: Result; settings: Record<string, string> }> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "es-data-"));
  try {
    const env = { ...nodes.environment(index), ES_DATA_DIR: data, "path.data": data, ...overrides };
    const result = await run("bash", [START_SCRIPT, "env"], { env, timeoutMs: 60_000 });
    const settings = Object.fromEntries(result.stdout.split("\n").filter((line) => /^[a-z0-9_]+\.[a-z0-9_.]+=/.test(line)).map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)];
    }));
    return { result, settings };
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
}

/** The setup's first script, security.sh, as the setup container runs it against member `index`'s node. */
function security(nodes: ElasticsearchNodes, index: number): Promise<Result> {
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    ...serviceEnvironment("logging", "setup", nodes.dotEnv(index)),
    ES_URL: nodes.url(index),
    ES_CA: nodes.pki.caFile,
  };
  return run("sh", [SECURITY_SCRIPT], { env, timeoutMs: 120_000 });
}

const marker = (nodes: ElasticsearchNodes, index: number, name: string) => fs.existsSync(path.join(nodes.dataPath(index), name));
const FORMED = ".platform-cluster-formed";
const FOUNDING = ".platform-founding";

const BOOTSTRAPPING = /^start: no formed cluster among 127\.0\.0\.21,127\.0\.0\.22,127\.0\.0\.23 and none in this data path; bootstrapping with logging,logging-2,logging-3$/m;
const RESTARTING_FORMED = /^start: this node has been in a formed cluster; restarting in it$/m;
const RESTARTING_STATE = /^start: .* holds the state of a cluster it did not found \(a single node grown, or a node that joined\); restarting in it$/m;

/** Indexes `count` documents into a new index of 3 shards with `replicas` replicas; resolves once they are searchable. */
async function fillIndex(nodes: ElasticsearchNodes, index: number, name: string, replicas: number, count: number): Promise<void> {
  const created = await ask(nodes, index, "PUT", `/${name}`, { settings: { number_of_shards: 3, number_of_replicas: replicas } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const operations = Array.from({ length: count }, (_, n) => [{ index: { _id: String(n) } }, { n }]).flat();
  const client = nodes.client("elastic", index);
  try {
    const bulk = await client.bulk({ index: name, refresh: true, operations });
    assert.equal(bulk.errors, false, JSON.stringify(bulk).slice(0, 2000));
  } finally {
    await client.close();
  }
}

async function countOf(nodes: ElasticsearchNodes, index: number, name: string): Promise<number> {
  const answer = await ask<{ count: number }>(nodes, index, "GET", `/${name}/_count`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.count;
}

interface ShardCopy { shard: string; prirep: string; state: string; node: string | null }

async function shardsOf(nodes: ElasticsearchNodes, index: number, name: string): Promise<ShardCopy[]> {
  const answer = await ask<ShardCopy[]>(nodes, index, "GET", `/_cat/shards/${name}?h=shard,prirep,state,node&format=json`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

describe("Elasticsearch cluster: start.sh and gate.sh against three real nodes on 127.0.0.21-23", function () {
  this.timeout(240_000);

  describe("a first deploy's roll: founding, joining, a member stopped and restarted", () => {
    let nodes: ElasticsearchNodes;
    let uuid: string;
    const REPLICATED = "replicated";
    const DOCUMENTS = 300;
    /** The member the stop and restart cases stop: one that holds a primary and is not the elected master, a founder if it can. */
    let stopped: number;
    let countBefore: number;

    before(() => {
      nodes = new ElasticsearchNodes(loopbackLoggingFacts(3, FIRST_ADDRESS));
    });
    after(async () => {
      if (nodes) await nodes.close();
    });

    it("the first member alone bootstraps and answers elastic with cluster UUID _na_; its gate passes as a first formation on that evidence only", async () => {
      // The node step's allocation limit before the first node of a new cluster exists: no member answers.
      const limit = await allocation(nodes, 0, "primaries", SHORT_GATE);
      assert.equal(limit.code, 0, limit.stderr);
      assert.equal(limit.stdout, "allocation: logging: no member reports a formed cluster (0 of 3 answer, none formed): nothing to limit\n");
      await nodes.start(0);
      assert.equal(decisions(nodes, 0).length, 1, nodes.log(0));
      assert.match(decisions(nodes, 0)[0], BOOTSTRAPPING);
      // What the compose healthcheck, start.sh and gate.sh read: elastic is authenticated (bootstrap.password) before
      // any cluster has formed, and the node reports no cluster UUID.
      const root = await ask<{ cluster_uuid: string }>(nodes, 0, "GET", "/");
      assert.equal(root.status, 200, JSON.stringify(root.body));
      assert.equal(root.body.cluster_uuid, "_na_");
      const me = await ask<{ authentication_realm: { type: string } }>(nodes, 0, "GET", "/_security/_authenticate");
      assert.equal(me.status, 200);
      assert.equal(me.body.authentication_realm.type, "reserved");
      // Node-local healthcheck: passes, and marks nothing formed.
      assert.equal(nodes.healthcheck(0), true, "a cluster node is healthy once it answers");
      assert.equal(marker(nodes, 0, FORMED), false);
      // Elasticsearch wrote its state at this first start, unformed: the founding marker is what tells it apart.
      assert.ok(marker(nodes, 0, "_state") && marker(nodes, 0, FOUNDING), fs.readdirSync(nodes.dataPath(0)).join(", "));
      // Fails closed: a 401 from the only member that answers (the old gate's "1 of 3 answer, first formation") tells
      // nothing, since a formed cluster's node answers so until its security index is ready.
      const refused = await gate(nodes, 0, SHORT_GATE, { ES_PASSWORD_ELASTIC: "Wrong0Password0For0The0Test000" });
      assert.equal(refused.code, 1, refused.stdout);
      assert.equal(refused.stdout, "");
      assert.equal(refused.stderr, "gate: logging (127.0.0.21) after 5s: no member reports a formed cluster, and 127.0.0.21 (401) answer(s) elastic without a " +
        "cluster UUID (a formed cluster's node answers 401 until its security index is ready): not a first formation\n");
      assert.ok(refused.seconds < SHORT_GATE.timeout + 15, `failed after ${refused.seconds}s`);
      // Fails closed: this node answers _na_ but its data path says it has been in a formed cluster (one that lost its
      // quorum, not a new one).
      fs.writeFileSync(path.join(nodes.dataPath(0), FORMED), "");
      try {
        const lost = await gate(nodes, 0, SHORT_GATE);
        assert.equal(lost.code, 1, lost.stdout);
        assert.equal(lost.stderr, "gate: logging (127.0.0.21) after 5s: no member reports a formed cluster, but this node's data path is marked formed " +
          "(.platform-cluster-formed): it has been in a cluster, which has lost its quorum; not a first formation\n");
      } finally {
        fs.rmSync(path.join(nodes.dataPath(0), FORMED));
      }
      // The gate step lifts no limit on a cluster that has never formed.
      const lift = await allocation(nodes, 0, "all", SHORT_GATE);
      assert.equal(lift.code, 0, lift.stderr);
      assert.equal(lift.stdout, "allocation: logging: no member reports a formed cluster (1 of 3 answer, none formed): nothing to lift\n");
      // A genuine first formation: a 200 as elastic with _na_, fewer than a quorum answer, founding and never formed.
      const result = await gate(nodes, 0, SHORT_GATE);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "gate: logging: no member reports a formed cluster and 1 of 3 answer, fewer than a quorum (2); this node bootstraps it " +
        "(founding, never formed): first formation, passing\n");
      // What the second member's start.sh decides meanwhile: its peer answers, unformed.
      const second = await startSettings(nodes, 1, {});
      assert.equal(second.result.code, 0, second.result.stderr);
      assert.match(second.result.stderr, BOOTSTRAPPING);
      assert.equal(second.settings["cluster.initial_master_nodes"], "logging,logging-2,logging-3");
      assert.equal(second.settings["discovery.seed_hosts"], "127.0.0.21:9300,127.0.0.23:9300");
      assert.equal(second.settings["network.publish_host"], "127.0.0.22");
    });

    it("security.sh before the formation: its first write is refused with 503, retried, and the script fails", async () => {
      const result = await security(nodes, 0);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /^PUT https:\/\/127\.0\.0\.21:9200\/_security\/role\/\S+ failed: curl: \(22\) The requested URL returned error: 503/);
      assert.match(result.stderr, /Cluster state has not been recovered yet, cannot write to the \[null\] index/);
      // curl's --retry 5 --retry-delay 3: six attempts, then the failure.
      assert.equal(result.stderr.match(/returned error: 503/g)?.length, 6, result.stderr);
      assert.ok(result.seconds >= 15, `it retried for ${result.seconds}s`);
      assert.equal(result.stdout, "", "no role was written");
    });

    it("the founding node restarted before the formation bootstraps again, the second member too; the two form one cluster, and both gates pass", async () => {
      await nodes.stop(0);
      // The second member starts meanwhile: alone, the first would wait out discovery.initial_state_timeout (30 s)
      // before it answers at all.
      await Promise.all([nodes.start(0), nodes.start(1)]);
      assert.deepEqual(decisions(nodes, 0).map((line) => BOOTSTRAPPING.test(line)), [true, true], nodes.log(0));
      assert.deepEqual(decisions(nodes, 1).map((line) => BOOTSTRAPPING.test(line)), [true], nodes.log(1));
      uuid = await formedCluster(nodes, [0, 1]);
      assert.deepEqual(await catNodes(nodes, 1), ["logging", "logging-2"]);
      for (const index of [0, 1]) {
        assert.equal(nodes.healthcheck(index), true);
        assert.equal(marker(nodes, index, FORMED), true, `the healthcheck marks ${nodes.name(index)}'s data path formed`);
      }
      for (const index of [1, 0]) {
        const result = await gate(nodes, index, LONG_GATE);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^gate: ${nodes.name(index)} is in the cluster, which is green or yellow`, "m"));
      }
    });

    it("security.sh right after the formation sets every role and user", async () => {
      const result = await security(nodes, 0);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^security: done$/m);
    });

    it("start.sh of a new member does not take a formed cluster's answer from a node it cannot trust or that refuses elastic", async () => {
      const joining = await startSettings(nodes, 2, {});
      assert.equal(joining.result.code, 0, joining.result.stderr);
      assert.equal(joining.settings["cluster.initial_master_nodes"], undefined, joining.result.stderr);
      // The other CA: the TLS handshake with every member fails, so none reports a formed cluster.
      const untrusted = await startSettings(nodes, 2, { ES_CA: nodes.pki.otherCaFile });
      assert.equal(untrusted.result.code, 0, untrusted.result.stderr);
      assert.match(untrusted.result.stderr, BOOTSTRAPPING);
      assert.equal(untrusted.settings["cluster.initial_master_nodes"], "logging,logging-2,logging-3");
      // A wrong password: the formed members answer 401, which tells no cluster UUID.
      const refused = await startSettings(nodes, 2, { ELASTIC_PASSWORD: "Wrong0Password0For0The0Test000" });
      assert.equal(refused.result.code, 0, refused.result.stderr);
      assert.match(refused.result.stderr, BOOTSTRAPPING);
    });

    it("the third member joins the formed cluster, without bootstrapping, and its gate passes", async () => {
      await nodes.start(2);
      const lines = decisions(nodes, 2);
      assert.equal(lines.length, 2, nodes.log(2));
      assert.match(lines[0], new RegExp(`^start: 127\\.0\\.0\\.2[12] is in formed cluster ${uuid}$`));
      assert.equal(lines[1], "start: joining the formed cluster");
      assert.equal(marker(nodes, 2, FOUNDING), false);
      assert.equal(await formedCluster(nodes, [0, 1, 2]), uuid);
      assert.deepEqual(await catNodes(nodes, 2), ["logging", "logging-2", "logging-3"]);
      // The settings each node got from start.sh: the founders the initial masters (as the environment gave them), the
      // joiner none.
      const settings = await ask<{ nodes: Record<string, { name: string; settings?: { cluster?: { initial_master_nodes?: string } } }> }>(nodes, 2, "GET",
        "/_nodes/settings?filter_path=nodes.*.name,nodes.*.settings.cluster.initial_master_nodes");
      // filter_path leaves out `settings` altogether on a node that has none of the filtered ones.
      const initialMasters = Object.fromEntries(Object.values(settings.body.nodes).map((node) => [node.name, node.settings?.cluster?.initial_master_nodes]));
      const all = "logging,logging-2,logging-3";
      assert.deepEqual(initialMasters, { logging: all, "logging-2": all, "logging-3": undefined });
      assert.equal(nodes.healthcheck(2), true);
      assert.equal(marker(nodes, 2, FORMED), true);
      const result = await gate(nodes, 2, LONG_GATE);
      assert.equal(result.code, 0, result.stderr);
    });

    it("gate.sh fails within its bound on a red cluster, and with a wrong elastic password in .env (a 401 is no evidence of a first formation)", async () => {
      // Created without waiting for its primary, which no node may hold.
      const red = await ask(nodes, 0, "PUT", "/unassignable?wait_for_active_shards=0", {
        settings: { number_of_shards: 1, number_of_replicas: 0, "index.routing.allocation.require._name": "no-such-node" },
      });
      assert.equal(red.status, 200, JSON.stringify(red.body));
      try {
        const result = await gate(nodes, 1, SHORT_GATE);
        assert.equal(result.code, 1, result.stdout);
        assert.match(result.stderr, /^gate: logging-2 \(127\.0\.0\.22\) after 5s: cluster health is not green or yellow: \{.*"status":"red"/);
        assert.ok(result.seconds < SHORT_GATE.timeout + 15, `failed after ${result.seconds}s`);
      } finally {
        assert.equal((await ask(nodes, 0, "DELETE", "/unassignable")).status, 200);
      }
      const wrong = await gate(nodes, 1, SHORT_GATE, { ES_PASSWORD_ELASTIC: "Wrong0Password0For0The0Test000" });
      assert.equal(wrong.code, 1, wrong.stdout);
      assert.match(wrong.stderr, /^gate: logging-2 \(127\.0\.0\.22\) after 5s: no member reports a formed cluster, and 127\.0\.0\.21 \(401\) 127\.0\.0\.22 \(401\) 127\.0\.0\.23 \(401\) answer\(s\) elastic without a cluster UUID/m);
      // A formed node (its data path marked formed) answering 401 while the other members are silent: what a cluster
      // grown from one node shows the moment that node restarts, before its security index is ready. The old gate took
      // it for "1 of 3 answer: first formation" and passed; this one fails closed.
      assert.equal(marker(nodes, 2, FORMED), true);
      const alone = await gate(nodes, 2, SHORT_GATE, { ES_PASSWORD_ELASTIC: "Wrong0Password0For0The0Test000", ES_CLUSTER_MEMBERS: "127.0.0.23,127.0.0.24,127.0.0.25" });
      assert.equal(alone.code, 1, alone.stdout);
      assert.match(alone.stderr, /^gate: logging-3 \(127\.0\.0\.23\) after 5s: no member reports a formed cluster, and 127\.0\.0\.23 \(401\) answer\(s\) elastic without a cluster UUID .*: not a first formation$/m);
    });

    it("a member's node stopped: its own gate and another member's fail within their bound, naming the member; no document is missing", async () => {
      await fillIndex(nodes, 0, REPLICATED, 1, DOCUMENTS);
      const green = await ask<{ status: string }>(nodes, 0, "GET", `/_cluster/health/${REPLICATED}?wait_for_status=green&timeout=60s`);
      assert.equal(green.body.status, "green", JSON.stringify(green.body));
      countBefore = await countOf(nodes, 0, REPLICATED);
      assert.equal(countBefore, DOCUMENTS);

      const master = (await ask<{ node: string }[]>(nodes, 0, "GET", "/_cat/master?h=node&format=json")).body[0].node;
      const copies = await shardsOf(nodes, 0, REPLICATED);
      const holdsPrimary = (name: string) => copies.some((copy) => copy.node === name && copy.prirep === "p");
      stopped = [1, 0, 2].find((index) => nodes.name(index) !== master && holdsPrimary(nodes.name(index))) ?? -1;
      assert.notEqual(stopped, -1, `no member but the master (${master}) holds a primary: ${JSON.stringify(copies)}`);
      const other = [0, 1, 2].find((index) => index !== stopped)!;
      await nodes.stop(stopped);
      const name = nodes.name(stopped);
      const ip = `127.0.0.${FIRST_ADDRESS + stopped}`;

      const own = await gate(nodes, stopped, SHORT_GATE);
      assert.equal(own.code, 1, own.stdout);
      assert.match(own.stderr, new RegExp(`^gate: ${name} \\(${ip.replace(/\./g, "\\.")}\\) after ${SHORT_GATE.timeout}s: no cluster answer from this node \\(curl: \\(7\\) `));
      assert.equal(own.stderr.trim().split("\n").length, 1, "one line");
      assert.ok(own.seconds < SHORT_GATE.timeout + 15, `failed after ${own.seconds}s`);

      // The member that stayed: its node is in the cluster, but the stopped node's copies wait for it (delayed).
      const stayed = await gate(nodes, other, SHORT_GATE);
      assert.equal(stayed.code, 1, stayed.stdout);
      assert.match(stayed.stderr, new RegExp(`^gate: ${nodes.name(other)} \\(127\\.0\\.0\\.${FIRST_ADDRESS + other}\\) after ${SHORT_GATE.timeout}s: shards wait for a node that left \\(delayed allocation\\)`));
      assert.ok(stayed.seconds < SHORT_GATE.timeout + 15, `failed after ${stayed.seconds}s`);

      assert.deepEqual(await catNodes(nodes, other), ["logging", "logging-2", "logging-3"].filter((n) => n !== name));
      assert.equal(await countOf(nodes, other, REPLICATED), countBefore, "every document is served by the copies left");
    });

    it("the stopped member restarts in its cluster; its gate passes once its shards are started; nothing is lost", async () => {
      await nodes.start(stopped);
      const lines = decisions(nodes, stopped);
      assert.match(lines[lines.length - 1], RESTARTING_FORMED, nodes.log(stopped));
      const result = await gate(nodes, stopped, LONG_GATE);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^gate: ${nodes.name(stopped)} is in the cluster`, "m"));
      // What the gate saw, as the cluster reports it right after: every copy started, some on the restarted node.
      const copies = await shardsOf(nodes, stopped, REPLICATED);
      assert.equal(copies.length, 6);
      assert.ok(copies.every((copy) => copy.state === "STARTED"), JSON.stringify(copies));
      assert.ok(copies.some((copy) => copy.node === nodes.name(stopped)), JSON.stringify(copies));
      const health = await ask<{ status: string }>(nodes, stopped, "GET", "/_cluster/health");
      assert.equal(health.body.status, "green", JSON.stringify(health.body));
      assert.equal(await formedCluster(nodes, [0, 1, 2]), uuid, "the same cluster");
      assert.equal(await countOf(nodes, stopped, REPLICATED), countBefore);
    });

    it("a day-2 restart as the roll does it: allocation.sh primaries, the node stopped and started, allocation.sh all, then the gate", async () => {
      // Without the limit, nothing would hold the stopped node's replicas back: the cluster would copy them elsewhere
      // at once (no delayed allocation).
      const unDelayed = await ask(nodes, 0, "PUT", `/${REPLICATED}/_settings`, { "index.unassigned.node_left.delayed_timeout": "0" });
      assert.equal(unDelayed.status, 200, JSON.stringify(unDelayed.body));
      const master = (await ask<{ node: string }[]>(nodes, 0, "GET", "/_cat/master?h=node&format=json")).body[0].node;
      const before = await shardsOf(nodes, 0, REPLICATED);
      assert.ok(before.every((copy) => copy.state === "STARTED"), JSON.stringify(before));
      const member = [1, 0, 2].find((index) => nodes.name(index) !== master && before.some((copy) => copy.node === nodes.name(index) && copy.prirep === "r"))!;
      assert.notEqual(member, undefined, `no member but the master (${master}) holds a replica: ${JSON.stringify(before)}`);
      const name = nodes.name(member);
      const other = [0, 1, 2].find((index) => index !== member)!;
      const holders = (shard: string) => before.filter((copy) => copy.shard === shard).map((copy) => copy.node);

      const limit = await allocation(nodes, member, "primaries", SHORT_GATE);
      assert.equal(limit.code, 0, limit.stderr);
      assert.equal(limit.stdout, `allocation: ${name}: cluster.routing.allocation.enable=primaries (persistent) before ${name} restarts\n`);
      const limited = await ask<{ persistent: Record<string, string>; transient: Record<string, string> }>(nodes, other, "GET", "/_cluster/settings?flat_settings=true");
      assert.deepEqual(limited.body, { persistent: { "cluster.routing.allocation.enable": "primaries" }, transient: {} });

      await nodes.stop(member);
      await waitFor(`${name} to leave the cluster`, 60_000, async () => !(await catNodes(nodes, other)).includes(name));
      // The master has promoted the copies left to primaries and reroutes at once: give it time to (not) copy.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const during = await shardsOf(nodes, other, REPLICATED);
      const moved = during.filter((copy) => copy.node !== null && !holders(copy.shard).includes(copy.node));
      assert.deepEqual(moved, [], `no copy on a node that did not hold it before: ${JSON.stringify(during)}`);
      const unassigned = during.filter((copy) => copy.state === "UNASSIGNED");
      assert.deepEqual(unassigned.map((copy) => copy.prirep), before.filter((copy) => copy.node === name).map(() => "r"),
        `every copy ${name} held is an unassigned replica: ${JSON.stringify(during)}`);
      const why = await ask<{ can_allocate: string; node_allocation_decisions: { deciders?: { decider: string; explanation: string }[] }[] }>(nodes, other, "GET",
        "/_cluster/allocation/explain", { index: REPLICATED, shard: Number(unassigned[0].shard), primary: false });
      assert.equal(why.status, 200, JSON.stringify(why.body));
      assert.equal(why.body.can_allocate, "no", JSON.stringify(why.body));
      const deciders = why.body.node_allocation_decisions.flatMap((decision) => decision.deciders ?? []);
      assert.ok(deciders.some((d) => d.decider === "enable" && d.explanation.includes("[cluster.routing.allocation.enable=primaries]")), JSON.stringify(deciders));
      assert.equal(await countOf(nodes, other, REPLICATED), countBefore, "every document is served by the primaries left");

      const restartedAt = Date.now();
      await nodes.start(member);
      const lift = await allocation(nodes, member, "all", LONG_GATE);
      assert.equal(lift.code, 0, lift.stderr);
      assert.equal(lift.stdout, `allocation: ${name}: node ${name} is in the cluster; cluster.routing.allocation.enable removed (all)\n`);
      const lifted = await ask<{ persistent: Record<string, string>; transient: Record<string, string> }>(nodes, other, "GET", "/_cluster/settings?flat_settings=true");
      assert.deepEqual(lifted.body, { persistent: {}, transient: {} });
      const result = await gate(nodes, member, LONG_GATE);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^gate: ${name} is in the cluster`, "m"));
      console.log(`      restart to gate passed: ${((Date.now() - restartedAt) / 1000).toFixed(1)} s (allocation.sh all ${lift.seconds.toFixed(1)} s, gate ${result.seconds.toFixed(1)} s)`);
      const after = await shardsOf(nodes, other, REPLICATED);
      assert.ok(after.every((copy) => copy.state === "STARTED"), JSON.stringify(after));
      assert.ok(after.some((copy) => copy.node === name), `the replicas recovered onto ${name}: ${JSON.stringify(after)}`);
      const health = await ask<{ status: string }>(nodes, other, "GET", "/_cluster/health");
      assert.equal(health.body.status, "green", JSON.stringify(health.body));
      assert.equal(await countOf(nodes, member, REPLICATED), countBefore);
    });
  });

  describe("a single node grown to three", () => {
    let single: ElasticsearchNodes | undefined;
    let grown: ElasticsearchNodes | undefined;
    let uuid: string;
    const KEPT = "kept";
    const DOCUMENTS = 50;

    after(async () => {
      await grown?.close();
      await single?.close();
    });

    it("one node: single-node discovery, no start.sh decision, healthy once yellow", async () => {
      single = new ElasticsearchNodes(loopbackLoggingFacts(1, FIRST_ADDRESS));
      await single.start(0);
      await single.waitHealthy(0, 60_000);
      assert.deepEqual(decisions(single, 0), [], "the single-node branch execs without a decision");
      type NodeSettings = { discovery?: unknown; cluster?: { initial_master_nodes?: unknown } };
      const settings = await ask<{ nodes: Record<string, { settings: NodeSettings }> }>(single, 0, "GET",
        "/_nodes/_local/settings?filter_path=nodes.*.settings.discovery,nodes.*.settings.cluster");
      const own = Object.values(settings.body.nodes)[0].settings;
      assert.deepEqual(own.discovery, { type: "single-node" });
      assert.equal(own.cluster?.initial_master_nodes, undefined);
      uuid = await clusterUuid(single, 0);
      assert.notEqual(uuid, "_na_");
      await fillIndex(single, 0, KEPT, 0, DOCUMENTS);
    });

    it("grown: the node restarts in its own cluster, the two new ones join it, and no second cluster is bootstrapped", async () => {
      await single!.stop(0);
      // The same host (member `logging`, the same data path and CA) in a platform of three.
      grown = new ElasticsearchNodes(loopbackLoggingFacts(3, FIRST_ADDRESS), { pki: single!.pki, dir: single!.dir });
      await grown.start(0);
      assert.equal(decisions(grown, 0).length, 1, grown.log(0));
      assert.match(decisions(grown, 0)[0], RESTARTING_STATE);
      assert.equal(await formedCluster(grown, [0]), uuid, "the single node's cluster");
      assert.equal(grown.healthcheck(0), true);
      assert.equal(marker(grown, 0, FORMED), true);
      const first = await gate(grown, 0, LONG_GATE);
      assert.equal(first.code, 0, first.stderr);
      // In its formed cluster, never as a first formation (it has no founding marker).
      assert.match(first.stdout, /^gate: logging is in the cluster/m);
      for (const index of [1, 2]) {
        await grown.start(index);
        assert.deepEqual(decisions(grown, index).slice(-1), ["start: joining the formed cluster"], grown.log(index));
        assert.equal(marker(grown, index, FOUNDING), false);
        assert.equal(await formedCluster(grown, [0, index]), uuid);
        const result = await gate(grown, index, LONG_GATE);
        assert.equal(result.code, 0, result.stderr);
      }
      assert.deepEqual(await catNodes(grown, 2), ["logging", "logging-2", "logging-3"]);
      // One cluster of three voters: the single node's voting configuration grew to every member.
      let voters: string[] = [];
      await waitFor("the voting configuration to hold the three nodes", 30_000, async () => {
        const state = await ask<{ metadata: { cluster_coordination: { last_committed_config: string[] } } }>(grown!, 0, "GET",
          "/_cluster/state/metadata?filter_path=metadata.cluster_coordination.last_committed_config");
        voters = state.body.metadata.cluster_coordination.last_committed_config;
        return voters.length === 3;
      });
      const ids = await ask<{ nodes: Record<string, unknown> }>(grown, 0, "GET", "/_nodes?filter_path=nodes.*.name");
      assert.deepEqual(voters.sort(), Object.keys(ids.body.nodes).sort());
      assert.equal(await countOf(grown, 2, KEPT), DOCUMENTS);
    });
  });
});
