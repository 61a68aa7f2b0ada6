import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";
import { renderDotEnv } from "../../components/bundles/env";
import { parse } from "yaml";
import { assembleBundle } from "../helpers/assemble-bundle";
import { clusterFacts, sampleEnv } from "../helpers/sample-facts";
import { runTool } from "../helpers/tools";
import { closedPort, sendJson } from "../helpers/verify-stand-ins";
import { basicUser, httpsServer, LOOPBACK_NODES, makeTestPki, TestPki } from "../helpers/es-tls";

/**
 * The logging bundle's cluster scripts (real bash + curl) against loopback HTTPS stand-ins for Elasticsearch nodes,
 * with a certificate from a test CA (openssl) that the scripts must trust and elastic's password they must send:
 * elasticsearch/start.sh's choice of node settings, and cluster/gate.sh's wait between two members of a roll.
 */

const ELASTIC_PASSWORD = "Elastic0Password0For0The0Test00";

const LOGGING_DIR = path.join(REPO_ROOT, "hosts", "logging");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string>, cwd?: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { PATH: process.env.PATH, ...env }, cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

interface Node {
  url: string;
  /** Paths (without query) it was asked for, in order. */
  seen: string[];
  /** The same requests with their query strings. */
  urls: string[];
  close(): Promise<void>;
}

let pki: TestPki;

/**
 * A stand-in node over HTTPS: GET / reports this cluster UUID ("_na_" before formation), the other paths as given;
 * without elastic's password, or for uuid `null` (security not answering yet), a 401 as Elasticsearch words it. The
 * nodes of one test share a port on several loopback addresses, as the members of a cluster share 9200 on their IPs.
 */
async function node(uuid: string | null, answers: Record<string, () => unknown> = {}, host = "127.0.0.1", port = 0): Promise<Node> {
  const seen: string[] = [];
  const urls: string[] = [];
  const { server, url } = await httpsServer(pki, (req, res) => {
    const route = (req.url ?? "").split("?")[0];
    seen.push(route);
    urls.push(req.url ?? "");
    if (uuid === null || basicUser(req.headers) !== `elastic:${ELASTIC_PASSWORD}`) {
      return sendJson(res, 401, { error: { type: "security_exception", reason: "unable to authenticate user [elastic] for REST request [/]" }, status: 401 });
    }
    if (route === "/") return sendJson(res, 200, { name: "peer", cluster_name: "log-platform", cluster_uuid: uuid });
    const answer = answers[route];
    if (!answer) return sendJson(res, 404, { error: `no stand-in for ${route}` });
    const body = answer();
    if (typeof body === "string") return void res.writeHead(200, { "content-type": "text/plain" }).end(body);
    sendJson(res, 200, body);
  }, host, port);
  return {
    url,
    seen,
    urls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const portOf = (url: string) => new URL(url).port;
const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

describe("logging cluster scripts (bash + curl against loopback stand-in nodes)", () => {
  const dirs: string[] = [];
  const standIns: Node[] = [];
  const dir = (prefix: string) => {
    const created = tempDir(prefix);
    dirs.push(created);
    return created;
  };
  const started = async (standIn: Promise<Node>) => {
    const s = await standIn;
    standIns.push(s);
    return s;
  };

  before(function () {
    this.timeout(60_000);
    for (const tool of ["bash", "curl"]) {
      const found = (process.env.PATH ?? "").split(":").some((d) => fs.existsSync(path.join(d, tool)));
      assert.ok(found, `${tool} is required for this test: apt-get install ${tool}`);
    }
    pki = makeTestPki();
  });
  after(() => pki.cleanup());

  afterEach(async () => {
    await Promise.all(standIns.splice(0).map((s) => s.close()));
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  describe("elasticsearch/start.sh: the settings it hands the image's entrypoint", () => {
    const SELF = "10.42.2.99"; // this member: never asked (its own node is not running yet)

    /** Runs start.sh with `env` as the image's entrypoint, so its output is the environment Elasticsearch would get. */
    async function startSettings(env: Record<string, string>): Promise<{ result: Result; settings: Record<string, string> }> {
      const result = await run("bash", [path.join(LOGGING_DIR, "elasticsearch", "start.sh"), "env"], env);
      const settings = Object.fromEntries(
        result.stdout.split("\n").filter((line) => /^[a-z0-9_]+\.[a-z0-9_.]+=/.test(line)).map((line) => {
          const at = line.indexOf("=");
          return [line.slice(0, at), line.slice(at + 1)];
        }),
      );
      return { result, settings };
    }

    const clusterEnv = (httpPort: string, dataDir: string) => ({
      ES_NODE_NAME: "logging-2",
      ES_SEED_HOSTS: "10.42.1.10:9300,10.42.2.2:9300",
      ES_INITIAL_MASTER_NODES: "logging,logging-2,logging-3",
      ES_CLUSTER_MEMBERS: `127.0.0.1,${SELF}`,
      HOST_PRIVATE_IP: SELF,
      HOST_ZONE: "eu-west-1b",
      ES_HTTP_PORT: httpPort,
      ES_DATA_DIR: dataDir,
      ES_CA: pki.caFile,
      ELASTIC_PASSWORD,
    });

    it("new data and a member that answers 401 (security not ready: no formed cluster it could tell): bootstraps", async () => {
      const peer = await started(node(null));
      const { result, settings } = await startSettings(clusterEnv(portOf(peer.url), dir("es-data-")));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(settings["cluster.initial_master_nodes"], "logging,logging-2,logging-3");
      assert.deepEqual(peer.seen, ["/"]);
    });

    it("a node that has been in a formed cluster never bootstraps again, even founding and alone", async () => {
      const data = dir("es-data-");
      fs.mkdirSync(path.join(data, "_state"));
      fs.writeFileSync(path.join(data, ".platform-founding"), "");
      // What the healthcheck writes once the node reports a formed cluster's UUID.
      fs.writeFileSync(path.join(data, ".platform-cluster-formed"), "");
      const { result, settings } = await startSettings(clusterEnv(String(await closedPort()), data));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(settings["cluster.initial_master_nodes"], undefined);
      assert.match(result.stderr, /has been in a formed cluster/);
    });

    it("refuses a cluster node whose .env lacks a value it needs, naming it", async () => {
      const env = { ...clusterEnv(String(await closedPort()), dir("es-data-")), HOST_ZONE: "" };
      const { result } = await startSettings(env);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /HOST_ZONE is empty/);
    });
  });

  describe("cluster/gate.sh: this node in a usable, settled cluster before the next member starts", () => {
    const UUID = "Xq3aVw5lT0uH8TQ3yWfS6A";
    // Three members; only those a test starts a stand-in for answer (the others refuse the connection).
    const MEMBERS = LOOPBACK_NODES;
    const health = (status: string, relocating: number, initializing = 0, delayed = 0) => () => ({
      cluster_name: "log-platform", status, number_of_nodes: 2, relocating_shards: relocating, initializing_shards: initializing,
      delayed_unassigned_shards: delayed,
    });
    const settled = { "/_cat/nodes": () => "logging\nlogging-2 \n", "/_cluster/health": health("yellow", 0) };

    /** Lays out a bundle folder with the gate and a .env naming this member (the first address) and its peers. */
    async function gate(self: Node, extra: Record<string, string> = {}, envExtra: Record<string, string> = {}): Promise<Result> {
      const bundle = dir("bundle-logging-");
      fs.cpSync(path.join(LOGGING_DIR, "cluster"), path.join(bundle, "cluster"), { recursive: true });
      // The CA where the program renders it (TLS_FILES.caCert).
      fs.mkdirSync(path.join(bundle, "tls"));
      fs.copyFileSync(pki.caFile, path.join(bundle, "tls", "ca.crt"));
      fs.writeFileSync(path.join(bundle, ".env"), renderDotEnv({
        ES_NODE_NAME: "logging-2", HOST_PRIVATE_IP: "10.42.2.1", ES_CLUSTER_MEMBERS: MEMBERS.join(","), ES_PASSWORD_ELASTIC: ELASTIC_PASSWORD, ...envExtra,
      }));
      return run("bash", ["cluster/gate.sh"], { ES_HTTP_PORT: portOf(self.url), ES_GATE_TIMEOUT: "3", ES_GATE_INTERVAL: "0.2", ...extra }, bundle);
    }

    it("passes once the node is listed and the cluster is yellow with nothing relocating", async () => {
      const es = await started(node(UUID, settled));
      const result = await gate(es);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /logging-2 is in the cluster/);
      // Health is read after pending cluster-state tasks (a reroute queued as the node rejoined).
      assert.ok(es.urls.includes("/_cluster/health?wait_for_events=languid&timeout=4s"), es.urls.join(", "));
    });

    it("waits while shards relocate, then fails within its bound naming the member and what is missing", async () => {
      const es = await started(node(UUID, { ...settled, "/_cluster/health": health("green", 2) }));
      const result = await gate(es);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^gate: logging-2 \(10\.42\.2\.1\) after 3s: shards are relocating/);
      assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
      assert.ok(es.seen.filter((p) => p === "/_cluster/health").length > 2, "it asked again while waiting");
    });

    it("waits while replicas are still recovering (initializing), then fails within its bound", async () => {
      const es = await started(node(UUID, { ...settled, "/_cluster/health": health("yellow", 0, 3) }));
      const result = await gate(es);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^gate: logging-2 \(10\.42\.2\.1\) after 3s: shards are initializing \(recovering\)/);
      await es.close();
      const delayed = await started(node(UUID, { ...settled, "/_cluster/health": health("yellow", 0, 0, 4) }));
      const waiting = await gate(delayed, { ES_GATE_TIMEOUT: "1" });
      assert.equal(waiting.code, 1);
      assert.match(waiting.stderr, /shards wait for a node that left \(delayed allocation\)/);
    });

    it("fails when the node is not in the cluster, or the cluster is red", async () => {
      const missing = await started(node(UUID, { ...settled, "/_cat/nodes": () => "logging\nlogging-3\n" }));
      const absent = await gate(missing, { ES_GATE_TIMEOUT: "1" });
      assert.equal(absent.code, 1);
      assert.match(absent.stderr, /node logging-2 is not in _cat\/nodes \(has: logging logging-3\)/);
      await missing.close();
      const red = await started(node(UUID, { ...settled, "/_cluster/health": health("red", 0) }));
      const result = await gate(red, { ES_GATE_TIMEOUT: "1" });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cluster health is not green or yellow/);
    });

    it("waits for the formation once a quorum answers, and follows a peer's formed cluster", async () => {
      const self = await started(node("_na_", settled));
      const peer = await started(node("_na_", {}, MEMBERS[1], Number(portOf(self.url))));
      const unformed = await gate(self, { ES_GATE_TIMEOUT: "1" });
      assert.equal(unformed.code, 1);
      assert.match(unformed.stderr, /no member reports a formed cluster, though 2 of 3 answer \(a quorum is 2\)/);
      await peer.close();
      // This node has not joined yet ("_na_") but a peer reports the cluster: the gate checks this node's place in it.
      await started(node(UUID, {}, MEMBERS[2], Number(portOf(self.url))));
      const joined = await gate(self);
      assert.equal(joined.code, 0, joined.stderr);
    });

    it("never passes while members report two clusters", async () => {
      const self = await started(node(UUID, settled));
      await started(node("Zz9OtherClusterUuid000", {}, MEMBERS[1], Number(portOf(self.url))));
      const result = await gate(self, { ES_GATE_TIMEOUT: "1" });
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, new RegExp(`^gate: logging-2 \\(10\\.42\\.2\\.1\\) after 1s: members report different clusters: (${UUID}: 127\\.0\\.0\\.1 Zz9OtherClusterUuid000: 127\\.0\\.0\\.2|Zz9OtherClusterUuid000: 127\\.0\\.0\\.2 ${UUID}: 127\\.0\\.0\\.1)$`, "m"));
    });

    it("passes a first formation only on this node's founding marker, read through docker compose exec: none, or docker failing, fails", async () => {
      const self = await started(node("_na_", settled));
      // A stand-in for `docker compose exec -T elasticsearch sh -c <markers>`, run on a data path of the test's.
      const data = dir("es-data-");
      const docker = path.join(data, "docker");
      fs.writeFileSync(docker, `#!/usr/bin/env bash\n[[ "$1 $2 $3 $4" == "compose exec -T elasticsearch" ]] || exit 1\nshift 4\nES_DATA_DIR=${JSON.stringify(data)} exec "$@"\n`, { mode: 0o755 });
      const none = await gate(self, { ES_GATE_TIMEOUT: "1", DOCKER: docker });
      assert.equal(none.code, 1, none.stdout);
      assert.match(none.stderr, /after 1s: no member reports a formed cluster, and this node's data path has no founding marker \(\.platform-founding\): it does not bootstrap a new cluster$/m);
      const broken = path.join(data, "docker-failing");
      fs.writeFileSync(broken, "#!/usr/bin/env bash\necho 'service \"elasticsearch\" is not running' >&2\nexit 1\n", { mode: 0o755 });
      const failing = await gate(self, { ES_GATE_TIMEOUT: "1", DOCKER: broken });
      assert.equal(failing.code, 1, failing.stdout);
      assert.match(failing.stderr, /after 1s: no member reports a formed cluster, and this node's data path markers cannot be read: service "elasticsearch" is not running$/m);
      fs.writeFileSync(path.join(data, ".platform-founding"), "");
      const founding = await gate(self, { DOCKER: docker });
      assert.equal(founding.code, 0, founding.stderr);
      assert.match(founding.stdout, /^gate: logging-2: no member reports a formed cluster and 1 of 3 answer, fewer than a quorum \(2\); .*first formation, passing$/m);
    });
  });

  it("is a valid bundle for docker-compose on every member of 1 and 3 nodes, the node's layout interpolated", async () => {
    for (const nodes of [1, 3]) {
      for (let index = 0; index < nodes; index++) {
        const env = sampleEnv("logging", index, clusterFacts({ logging: nodes }));
        const bundle = await assembleBundle("logging", { env });
        dirs.push(bundle);
        const result = runTool("docker-compose", ["config"], "docker-compose", { cwd: bundle });
        assert.equal(result.status, 0, `${env.HOST_MEMBER} of ${nodes}: ${result.stderr}`);
        const es = (parse(result.stdout) as { services: Record<string, { environment: Record<string, string> }> }).services.elasticsearch;
        assert.equal(es.environment.ES_SEED_HOSTS, env.ES_SEED_HOSTS, `${env.HOST_MEMBER} of ${nodes}`);
        assert.equal(es.environment.ES_NODE_NAME, env.HOST_MEMBER);
      }
    }
  });
});
