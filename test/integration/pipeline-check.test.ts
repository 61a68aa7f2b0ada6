import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { Role } from "../../components/platform/roles";
import { REPO_ROOT } from "../../components/platform/repo";
import { renderDotEnv } from "../../components/bundles/env";
import { passwordVariable } from "../../components/credentials/elasticsearch";
import { sampleEnv } from "../helpers/sample-facts";
import { execFile } from "child_process";
import { basicUser, httpsServer, makeTestPki, TestPki } from "../helpers/es-tls";

/** What the stand-ins report: Fluent Bit counters, the index count, gateway log lines and topic offsets. */
interface Observed {
  forwarderRecords: number;
  aggregatorRecords: number;
  documents: number;
  gatewayLines: number;
  topicOffsets: number[];
}

const EMPTY: Observed = { forwarderRecords: 0, aggregatorRecords: 0, documents: 0, gatewayLines: 0, topicOffsets: [0, 0, 0] };

describe("checks/pipeline.sh against stand-ins on loopback", function () {
  this.timeout(30_000);
  let server: http.Server;
  let baseUrl: string;
  // Elasticsearch over HTTPS with a test CA's certificate; it counts only for platform-check with its password.
  let es: http.Server;
  let esUrl: string;
  let pki: TestPki;
  let observed: Observed;
  let bundle: string;

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/api/v2/metrics/prometheus") {
        res.end([
          "# HELP fluentbit_output_proc_records_total Number of processed output records.",
          `fluentbit_output_proc_records_total{name="kafka_containers"} 999`,
          `fluentbit_output_proc_records_total{name="kafka_gateway"} ${observed.forwarderRecords}`,
          `fluentbit_input_records_total{name="kafka_in"} ${observed.aggregatorRecords}`,
          "",
        ].join("\n"));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pki = makeTestPki();
    const check = `platform-check:${sampleEnv("logging")[passwordVariable("check")]}`;
    ({ server: es, url: esUrl } = await httpsServer(pki, (req, res) => {
      res.setHeader("content-type", "application/json");
      if (basicUser(req.headers) !== check) res.writeHead(401).end(JSON.stringify({ status: 401 }));
      else if (req.url === "/gateway-access-*/_count") res.end(JSON.stringify({ count: observed.documents, _shards: { total: 1 } }));
      else res.writeHead(404).end();
    }));
  });
  after(() => {
    server.close();
    es.close();
    pki.cleanup();
  });

  beforeEach(() => {
    observed = { ...EMPTY };
    bundle = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-check-"));
    fs.cpSync(path.join(REPO_ROOT, "checks"), path.join(bundle, "checks"), { recursive: true });
  });
  afterEach(() => fs.rmSync(bundle, { recursive: true, force: true }));

  /**
   * Runs the stage of one host; `docker compose` is a stand-in script printing what `observed` says. Asynchronous, so
   * the stand-in HTTP server in this process keeps answering while the script polls it.
   */
  function runStage(role: Role, envChange: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
    fs.writeFileSync(path.join(bundle, ".env"), renderDotEnv({ ...sampleEnv(role), ...envChange }));
    const fakeDocker = path.join(bundle, "fake-docker");
    const gatewayLine = JSON.stringify({ started_at: 1700000000000, response: { status: 200 } });
    fs.writeFileSync(fakeDocker, [
      "#!/bin/sh",
      `case "$2" in`,
      `  logs) i=0; while [ "$i" -lt ${observed.gatewayLines} ]; do echo '${gatewayLine}'; i=$((i+1)); done; echo 'nginx: started' ;;`,
      `  exec) ${observed.topicOffsets.map((offset, p) => `echo '${sampleEnv("kafka").KAFKA_TOPIC_GATEWAY}:${p}:${offset}'`).join("; ")} ;;`,
      "esac",
    ].join("\n"), { mode: 0o755 });
    const env = {
      ...process.env,
      DOCKER: fakeDocker,
      FORWARDER_METRICS_URL: baseUrl,
      AGGREGATOR_METRICS_URL: baseUrl,
      ELASTICSEARCH_LOCAL_URL: esUrl,
      ELASTICSEARCH_CA: pki.caFile,
      PIPELINE_CHECK_TIMEOUT: "2",
      PIPELINE_CHECK_INTERVAL: "0.2",
    };
    return new Promise((resolve) => {
      execFile("bash", ["checks/pipeline.sh"], { cwd: bundle, env, timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it("web: passes when the gateway logged and the forwarder sent gateway records", async () => {
    observed = { ...EMPTY, gatewayLines: 3, forwarderRecords: 42 };
    const result = await runStage("web");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /stage gateway-log: 3\nstage forwarder-output: 42/);
  });

  it("web: names the gateway-log stage when the gateway wrote nothing", async () => {
    observed = { ...EMPTY, forwarderRecords: 42 };
    const result = await runStage("web");
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^stage gateway-log: nothing after 2s; look at/m);
  });

  it("web: names the forwarder-output stage when only other containers' records flow", async () => {
    observed = { ...EMPTY, gatewayLines: 3 };
    const result = await runStage("web");
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^stage forwarder-output: nothing after 2s; look at .*Kafka at 10\.42\.1\.12:9092/m);
  });

  it("kafka: sums the gateway topic's partition offsets, and names the topic stage when it is empty", async () => {
    observed = { ...EMPTY, topicOffsets: [5, 0, 7] };
    assert.match((await runStage("kafka")).stdout, /stage topic: 12/);
    observed = { ...EMPTY };
    const empty = await runStage("kafka");
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /^stage topic: nothing after 2s; .*platform\.gateway\.access\.dev\.json/m);
  });

  it("logging: passes with consumed records and indexed documents, names the index stage without documents", async () => {
    observed = { ...EMPTY, aggregatorRecords: 10, documents: 8 };
    const ok = await runStage("logging");
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /stage aggregator: 10\nstage index: 8/);
    observed = { ...EMPTY, aggregatorRecords: 10 };
    const noDocuments = await runStage("logging");
    assert.equal(noDocuments.status, 1);
    assert.match(noDocuments.stderr, /^stage index: nothing after 2s; look at 'docker compose logs fluent-bit setup'/m);
  });

  it("logging: counts as platform-check with the password from .env, over HTTPS trusting the CA", async () => {
    observed = { ...EMPTY, aggregatorRecords: 10, documents: 8 };
    const wrong = await runStage("logging", { [passwordVariable("check")]: "wrong" });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /^stage index: nothing after 2s/m);
  });

  it("logging: names the aggregator stage first when nothing was consumed", async () => {
    const result = await runStage("logging");
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^stage aggregator: nothing after 2s/m);
  });

  it("refuses to run on a host that has no stage", async () => {
    const result = await runStage("monitoring");
    assert.equal(result.status, 2);
    assert.match(result.stderr, /no pipeline stage runs on the monitoring host/);
  });
});
