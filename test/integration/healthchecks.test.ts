import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net, { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { healthcheckCommand } from "../helpers/compose";
import { freePort } from "../helpers/local-servers";
import { basicUser, httpsServer, makeTestPki, TestPki } from "../helpers/es-tls";

/**
 * Runs the Elasticsearch, Kibana and Kafka healthcheck commands from the compose files (real sh, bash, curl and node) against
 * loopback stand-ins that answer like the real services, with only the address (and Kibana's node path, the CA file)
 * swapped in.
 */

/** The shell command of a service's healthcheck, as compose hands it to the container (`$$` becomes `$`). */
function swap(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `the healthcheck no longer contains ${from}`);
  return text.split(from).join(to);
}

/** Exit code of a command, bounded at 20 s like compose's timeout would (the commands here take milliseconds). */
function exitCode(command: string, args: string[], env: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: "ignore", timeout: 20_000, env: { ...process.env, ...env } });
    child.on("error", reject);
    child.on("close", (code) => resolve(code));
  });
}

async function listen(server: net.Server): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("healthcheck commands", () => {
  describe("elasticsearch (hosts/logging/compose.yaml): over HTTPS with the CA; one node yellow as elastic, a cluster node any answer", function () {
    this.timeout(60_000);
    const PASSWORD = "ElasticPasswordForTheHealthcheck";
    let pki: TestPki;
    before(() => (pki = makeTestPki()));
    after(() => pki.cleanup());

    /**
     * The exit code, run in a stand-in home (with data/), against a stand-in that answers 200 to elastic with
     * PASSWORD (GET / with `uuid` as the cluster UUID, pretty-printed as Elasticsearch does) and 401 to anyone else.
     */
    async function check(env: Record<string, string>, ca = "ca", uuid = "_na_"): Promise<{ code: number | null; seen: string[]; formedMarker: boolean }> {
      const seen: string[] = [];
      const { server, url } = await httpsServer(pki, (req, res) => {
        seen.push(`${basicUser(req.headers) ?? "-"} ${req.url}`);
        const ok = basicUser(req.headers) === `elastic:${PASSWORD}`;
        const body = req.url === "/" ? `{\n  "name" : "logging-2",\n  "cluster_name" : "log-platform",\n  "cluster_uuid" : "${uuid}"\n}` : '{"status":"yellow"}';
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end(ok ? body : '{"status":401}');
      });
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "es-home-"));
      try {
        fs.mkdirSync(path.join(home, "data"));
        const [kind, script] = healthcheckCommand("logging", "elasticsearch");
        assert.equal(kind, "CMD-SHELL");
        const local = swap(swap(script, "https://localhost:9200", url), "config/certs/ca.crt", ca === "ca" ? pki.caFile : pki.otherCaFile);
        const code = await exitCode("sh", ["-c", `cd '${home}' && ${local}`], env);
        return { code, seen, formedMarker: fs.existsSync(path.join(home, "data", ".platform-cluster-formed")) };
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }

    it("one node: healthy once yellow for elastic with its password, unhealthy with another", async () => {
      const good = await check({ ES_SEED_HOSTS: "", ELASTIC_PASSWORD: PASSWORD });
      assert.equal(good.code, 0);
      assert.deepEqual(good.seen, [`elastic:${PASSWORD} /_cluster/health?wait_for_status=yellow&timeout=5s`]);
      assert.notEqual((await check({ ES_SEED_HOSTS: "", ELASTIC_PASSWORD: "wrong" })).code, 0);
    });

    it("a cluster node: healthy on any HTTPS answer, a 401 included; marks its data path only once it reports a formed cluster", async () => {
      const unformed = await check({ ES_SEED_HOSTS: "10.42.2.2:9300", ELASTIC_PASSWORD: PASSWORD });
      assert.equal(unformed.code, 0);
      assert.deepEqual(unformed.seen, [`elastic:${PASSWORD} /`]);
      assert.equal(unformed.formedMarker, false, "_na_ is no formed cluster");
      const refused = await check({ ES_SEED_HOSTS: "10.42.2.2:9300", ELASTIC_PASSWORD: "wrong" }, "ca", "Xq3aVw5lT0uH8TQ3yWfS6A");
      assert.equal(refused.code, 0, "a 401 is a node that answers");
      assert.equal(refused.formedMarker, false);
      const formed = await check({ ES_SEED_HOSTS: "10.42.2.2:9300", ELASTIC_PASSWORD: PASSWORD }, "ca", "_Xq3aVw5lT0uH8TQ3yWfS6A");
      assert.equal(formed.code, 0);
      assert.equal(formed.formedMarker, true, "a UUID (even one starting with _) is a formed cluster");
    });

    it("unhealthy when the node's certificate is not the CA's", async () => {
      assert.notEqual((await check({ ES_SEED_HOSTS: "10.42.2.2:9300", ELASTIC_PASSWORD: PASSWORD }, "other")).code, 0);
      assert.notEqual((await check({ ES_SEED_HOSTS: "", ELASTIC_PASSWORD: PASSWORD }, "other")).code, 0);
    });
  });

  describe("kibana (hosts/logging/compose.yaml): core Elasticsearch and saved objects, not every plugin", () => {
    const KIBANA_HOME = "/usr/share/kibana";
    let home: string;
    before(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), "kibana-home-"))));
    after(() => fs.rmSync(home, { recursive: true, force: true }));

    /** Kibana's bundled node, at `node/<layout>` below a stand-in KIBANA_HOME: this machine's node. */
    function kibanaHome(layout: string): string {
      const root = path.join(home, layout.replace(/\//g, "-"));
      const node = path.join(root, "node", layout, "node");
      if (!fs.existsSync(node)) {
        fs.mkdirSync(path.dirname(node), { recursive: true });
        fs.symlinkSync(process.execPath, node);
      }
      return root;
    }

    /** /api/status in Kibana's v8 format (what 8.19 answers without ?v7format): status.overall/core/plugins. */
    function status(overall: string, core: { elasticsearch: string; savedObjects: string }, plugins: Record<string, string>) {
      const service = (level: string) => ({ level, summary: `${level} (stand-in)` });
      return {
        name: "kibana",
        uuid: "5b2de169-2785-441b-ae8c-186a1936b17d",
        version: { number: "8.19.25", build_flavor: "traditional", build_snapshot: false },
        status: {
          overall: service(overall),
          core: { elasticsearch: { ...service(core.elasticsearch), meta: { warningNodes: [], incompatibleNodes: [] } }, savedObjects: service(core.savedObjects) },
          plugins: Object.fromEntries(Object.entries(plugins).map(([name, level]) => [name, service(level)])),
        },
        metrics: { last_updated: "2026-12-01T10:00:00.000Z", collection_interval_in_millis: 5000 },
      };
    }

    async function check(answer: { status: number; body: string } | undefined, layout = "glibc-217/bin"): Promise<number | null> {
      const server = http.createServer((req, res) => {
        assert.equal(req.url, "/api/status");
        res.writeHead(answer!.status, { "content-type": "application/json" }).end(answer!.body);
      });
      const listening = answer ? await listen(server) : { port: await freePort(), close: async () => undefined };
      try {
        const [kind, script] = healthcheckCommand("logging", "kibana");
        assert.equal(kind, "CMD-SHELL");
        const local = swap(swap(script, "http://localhost:5601", `http://127.0.0.1:${listening.port}`), KIBANA_HOME, kibanaHome(layout));
        return await exitCode("sh", ["-c", local]);
      } finally {
        await listening.close();
      }
    }

    const core = (elasticsearch: string, savedObjects: string) => ({ elasticsearch, savedObjects });

    it("is healthy when everything is available (node in node/<variant>/bin, as since 8.15)", async () => {
      const body = JSON.stringify(status("available", core("available", "available"), { reporting: "available" }));
      assert.equal(await check({ status: 200, body }), 0);
    });

    it("finds node in node/bin too (Kibana before 8.15)", async () => {
      const body = JSON.stringify(status("available", core("available", "available"), {}));
      assert.equal(await check({ status: 200, body }, "bin"), 0);
    });

    it("is healthy when a plugin is degraded or unavailable but core is available", async () => {
      const degraded = status("degraded", core("available", "available"), { reporting: "degraded", alerting: "available" });
      assert.equal(await check({ status: 200, body: JSON.stringify(degraded) }), 0);
      const unavailable = status("unavailable", core("available", "available"), { taskManager: "unavailable" });
      assert.equal(await check({ status: 503, body: JSON.stringify(unavailable) }), 0);
    });

    it("is unhealthy while saved objects are unavailable (migrations running) or Elasticsearch is not reached", async () => {
      const migrating = status("unavailable", core("available", "unavailable"), {});
      assert.equal(await check({ status: 503, body: JSON.stringify(migrating) }), 1);
      const noElasticsearch = status("unavailable", core("unavailable", "unavailable"), {});
      assert.equal(await check({ status: 503, body: JSON.stringify(noElasticsearch) }), 1);
      const degradedCore = status("degraded", core("degraded", "available"), {});
      assert.equal(await check({ status: 200, body: JSON.stringify(degradedCore) }), 1);
    });

    it("is unhealthy when Kibana does not answer, or answers something else than its status", async () => {
      assert.notEqual(await check(undefined), 0);
      assert.notEqual(await check({ status: 503, body: "Kibana server is not ready yet" }), 0);
    });
  });

  describe("kafka (hosts/kafka/compose.yaml): an ApiVersions round trip in bash, no JVM", () => {
    const LISTENER = "/dev/tcp/127.0.0.1/9092";

    /** What the stand-in found wrong in a request; checked by the test, since a throw in the server would be lost. */
    function requestProblems(data: Buffer): string[] {
      const problems: string[] = [];
      if (data.readInt16BE(4) !== 18) problems.push(`api key ${data.readInt16BE(4)}, not 18 (ApiVersions)`);
      if (data.readInt16BE(6) !== 0) problems.push(`api version ${data.readInt16BE(6)}, not 0`);
      // Request header v1: api key, api version, correlation id, client id (int16 length + bytes); the v0 body is empty.
      if (data.length !== 14 + data.readInt16BE(12)) problems.push(`${data.length} bytes do not match header v1 with its client id`);
      return problems;
    }

    /** A broker stand-in on loopback: answers ApiVersions per `reply`; returns the exit code and what it received. */
    async function check(reply: ((correlationId: number) => { correlationId: number; errorCode: number }) | "silent" | "closed"): Promise<{ code: number | null; requests: number }> {
      let requests = 0;
      const problems: string[] = [];
      const server = net.createServer((socket) => {
        // The check hangs up once it has read what it needs.
        socket.on("error", () => undefined);
        let data = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => {
          data = Buffer.concat([data, chunk]);
          if (data.length < 4 || data.length < 4 + data.readInt32BE(0)) return;
          requests++;
          problems.push(...requestProblems(data));
          if (reply === "silent") return;
          if (reply === "closed") return void socket.destroy();
          const { correlationId, errorCode } = reply(data.readInt32BE(8));
          // Response header v0 (correlation id), body v0: error code, then the api keys array (empty here).
          const body = Buffer.alloc(10);
          body.writeInt32BE(correlationId, 0);
          body.writeInt16BE(errorCode, 4);
          body.writeInt32BE(0, 6);
          const size = Buffer.alloc(4);
          size.writeInt32BE(body.length);
          socket.end(Buffer.concat([size, body]));
        });
      });
      const listening = await listen(server);
      try {
        const [kind, shell, flag, script] = healthcheckCommand("kafka", "kafka");
        assert.deepEqual([kind, shell, flag], ["CMD", "bash", "-c"]);
        // "silent" would block until compose's timeout: bound it the same way here.
        const local = swap(script, LISTENER, `/dev/tcp/127.0.0.1/${listening.port}`);
        const code = await exitCode("timeout", ["5", "bash", "-c", local]);
        assert.deepEqual(problems, [], "the request is a well-formed ApiVersions v0");
        return { code, requests };
      } finally {
        await listening.close();
      }
    }

    it("is healthy when the broker answers ApiVersions with error code 0", async () => {
      assert.deepEqual(await check((id) => ({ correlationId: id, errorCode: 0 })), { code: 0, requests: 1 });
    });

    it("is unhealthy when the broker answers with an error, for another request, or not at all", async () => {
      assert.notEqual((await check((id) => ({ correlationId: id, errorCode: 35 }))).code, 0, "UNSUPPORTED_VERSION");
      assert.notEqual((await check((id) => ({ correlationId: id + 1, errorCode: 0 }))).code, 0, "another correlation id");
      assert.notEqual((await check("closed")).code, 0, "connection closed without an answer");
      assert.notEqual((await check("silent")).code, 0, "no answer");
    });

    it("is unhealthy when nothing listens", async () => {
      const [, , , script] = healthcheckCommand("kafka", "kafka");
      const local = swap(script, LISTENER, `/dev/tcp/127.0.0.1/${await freePort()}`);
      assert.notEqual(await exitCode("bash", ["-c", local]), 0);
    });
  });
});
