import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { renderDotEnv } from "../../components/bundles/env";
import { INDEX_PREFIXES } from "../../components/platform/naming";
import { REPO_ROOT } from "../../components/platform/repo";
import { ROLES } from "../../components/platform/roles";
import { clusterHealth, containerLogsPerMember, elasticsearchClient, EsContext, mappedTypes, recentGatewayDocuments, templatesAndPolicies } from "../../verify/elasticsearch";
import { loadIndexTemplate, repoDirs } from "../../verify/provisioning";
import { serviceEnvironment } from "../helpers/compose";
import { gatewayDocument } from "../helpers/gateway-log";
import { ElasticsearchNodes, loopbackLoggingFacts, passwordOf } from "../helpers/elasticsearch-node";
import { startStandIn, StandIn, testOutputs } from "../helpers/verify-stand-ins";

/**
 * `npm run verify`'s Elasticsearch checks and the index stage of checks/pipeline.sh against a real node set up by the
 * bundle's own scripts, as platform-check: what each passes on, and that each fails while its data is missing.
 */

const SETUP_DIR = path.join(REPO_ROOT, "hosts", "logging", "setup");
const day = new Date().toISOString().slice(0, 10).replace(/-/g, ".");


function runScript(file: string, env: Record<string, string>, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", [file], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("verify's Elasticsearch checks and the pipeline check's index stage against a real node (ILM stand-in)", function () {
  this.timeout(300_000);
  let nodes: ElasticsearchNodes;
  let ctx: EsContext;
  let metrics: StandIn;

  before(async () => {
    nodes = new ElasticsearchNodes(loopbackLoggingFacts(1));
    await nodes.start(0);
    await nodes.waitHealthy(0);
    const env = { ...serviceEnvironment("logging", "setup", nodes.dotEnv(0)), ES_URL: nodes.url(0), ES_CA: nodes.pki.caFile };
    for (const script of ["security/security.sh", "setup.sh"]) {
      const result = await runScript(path.join(SETUP_DIR, script), env);
      assert.equal(result.code, 0, `${script}: ${result.stderr}`);
    }
    const outputs = testOutputs({ elasticsearchUrl: nodes.url(0) }, {
      elasticsearchCaCertificate: fs.readFileSync(nodes.pki.caFile, "utf8"),
      elasticsearchCheckPassword: passwordOf("check", nodes.facts),
    });
    // verify's own client: the program's CA only, and the node certificate's service name.
    ctx = { es: elasticsearchClient(outputs, 10_000), outputs, timeoutMs: 10_000 };
    // The aggregator's input counter, which the logging stage reads before it counts documents.
    metrics = await startStandIn((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" }).end('fluentbit_input_records_total{name="kafka_in"} 10\n');
    });
  });
  after(async () => {
    await metrics?.close();
    await nodes?.close();
  });

  /** Runs the logging stage of checks/pipeline.sh from a bundle folder holding it and the member's .env. */
  async function pipelineStage(): Promise<{ code: number; stdout: string; stderr: string }> {
    const bundle = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-index-"));
    try {
      fs.cpSync(path.join(REPO_ROOT, "checks"), path.join(bundle, "checks"), { recursive: true });
      fs.writeFileSync(path.join(bundle, ".env"), renderDotEnv(nodes.dotEnv(0)));
      return await runScript(path.join(bundle, "checks", "pipeline.sh"), {
        AGGREGATOR_METRICS_URL: metrics.url,
        ELASTICSEARCH_LOCAL_URL: nodes.url(0),
        ELASTICSEARCH_CA: nodes.pki.caFile,
        PIPELINE_CHECK_TIMEOUT: "3",
        PIPELINE_CHECK_INTERVAL: "0.5",
      }, bundle);
    } finally {
      fs.rmSync(bundle, { recursive: true, force: true });
    }
  }

  it("before any document: the gateway check and the index stage fail, naming what is missing", async () => {
    await assert.rejects(recentGatewayDocuments(ctx, 5), /no gateway documents in gateway-access-\* in the last 5 min \(newest: none at all\)/);
    await assert.rejects(containerLogsPerMember(ctx), /no container logs in containers-\* from any member/);
    const stage = await pipelineStage();
    assert.equal(stage.code, 1, stage.stdout);
    assert.match(stage.stderr, /^stage index: nothing after 3s/m);
  });

  it("with the aggregator's documents indexed: every check passes", async () => {
    const writer = nodes.client("fluentBit");
    const members = ROLES.map((role) => role as string);
    const result = await writer.bulk({
      refresh: true,
      operations: [
        { index: { _index: `${INDEX_PREFIXES.gateway}-${day}` } }, gatewayDocument({ "@timestamp": new Date().toISOString(), started_at: Date.now() }),
        ...members.flatMap((member) => [
          { index: { _index: `${INDEX_PREFIXES.containers}-${day}` } },
          { "@timestamp": new Date().toISOString(), log: "started", "host.name": member, "container.name": "fluent-bit-forwarder", stream: "stderr" },
        ]),
      ],
    });
    assert.equal(result.errors, false, JSON.stringify(result.items.filter((item) => item.index?.error)));

    assert.match(String(await clusterHealth(ctx)), /^green, 1 of 1 node\(s\)/);
    assert.match(await templatesAndPolicies(ctx), /gateway-access -> gateway-access/);
    assert.match(await recentGatewayDocuments(ctx, 5), /^1 gateway documents in the last 5 min$/);
    assert.match(String(await containerLogsPerMember(ctx)), /^container logs from all 4 members/);
    // The real index's mapping, made from the repo's templates, has every template field with its type.
    const template = loadIndexTemplate(repoDirs().indexTemplates, `${INDEX_PREFIXES.gateway}-*`);
    assert.match(await mappedTypes(ctx, template), new RegExp(`^${INDEX_PREFIXES.gateway}-${day.replace(/\./g, "\\.")}: ${template.fields.size} fields typed as in`));

    const stage = await pipelineStage();
    assert.equal(stage.code, 0, stage.stderr);
    assert.match(stage.stdout, /stage aggregator: 10\nstage index: 1/);
  });

  it("a wrong check password: verify names the output to look at", async () => {
    const outputs = { ...ctx.outputs, elasticsearchCheckPassword: "wrong0password0wrong0password00" };
    const wrong = { ...ctx, outputs, es: elasticsearchClient(outputs, 10_000) };
    await assert.rejects(clusterHealth(wrong), /elasticsearchCheckPassword/);
  });
});
