import assert from "node:assert/strict";
import { alertFails, kafkaBrokers, nodeExportersPerMember, prometheusAlerts, prometheusTargets } from "../../verify/prometheus";
import { clusterOutputs, sendJson, StandIn, startStandIn, testOutputs } from "../helpers/verify-stand-ins";

/** Answers /api/v1/alerts, /api/v1/targets and instant queries (by query text) in Prometheus' HTTP API shape. */
async function prometheus(alerts: unknown[], targets: unknown[] = [], queries: Record<string, unknown[]> = {}): Promise<StandIn> {
  return startStandIn((req, res) => {
    const url = new URL(req.url ?? "", "http://stand-in");
    if (req.url === "/api/v1/alerts") return sendJson(res, 200, { status: "success", data: { alerts } });
    if (req.url === "/api/v1/targets?state=active") return sendJson(res, 200, { status: "success", data: { activeTargets: targets, droppedTargets: [] } });
    const result = queries[url.searchParams.get("query") ?? ""];
    if (url.pathname === "/api/v1/query" && result) return sendJson(res, 200, { status: "success", data: { resultType: "vector", result } });
    sendJson(res, 404, { status: "error", error: "not found" });
  });
}

const alert = (alertname: string, state: string, labels: Record<string, string> = {}) => ({
  labels: { alertname, ...labels }, annotations: {}, state, activeAt: "2025-06-01T10:00:00Z", value: "1e+00",
});

describe("verify: Prometheus checks (stand-in API; the integration test runs a real Prometheus)", () => {
  let server: StandIn;
  afterEach(async () => server?.close());

  it("passes with no alert firing, listing pending ones", async () => {
    server = await prometheus([alert("HostHighCpu", "pending", { role: "web" })]);
    assert.equal(await prometheusAlerts(testOutputs({ prometheusUrl: server.url }), 2000), "no alert firing; pending: HostHighCpu (web)");
  });

  it("warns on a firing warning alert", async () => {
    server = await prometheus([alert("ElasticsearchClusterYellow", "firing", { severity: "warning", role: "logging" })]);
    assert.deepEqual(await prometheusAlerts(testOutputs({ prometheusUrl: server.url }), 2000), {
      status: "WARN",
      detail: "firing: ElasticsearchClusterYellow[warning] (logging)",
    });
  });

  it("fails on a firing TargetDown-like or critical alert", async () => {
    server = await prometheus([alert("TargetDown", "firing", { instance: "10.42.1.12:9308" }), alert("Other", "firing")]);
    await assert.rejects(prometheusAlerts(testOutputs({ prometheusUrl: server.url }), 2000), /firing: TargetDown \(10\.42\.1\.12:9308\), Other/);
    assert.ok(alertFails(alert("ElasticsearchClusterRed", "firing", { severity: "critical" })));
    assert.ok(!alertFails(alert("KafkaConsumerLagGrowing", "firing", { severity: "warning" })));
  });

  it("fails when the API answers an error", async () => {
    server = await startStandIn((_req, res) => sendJson(res, 503, { status: "error", error: "TSDB not ready" }));
    await assert.rejects(prometheusTargets(testOutputs({ prometheusUrl: server.url }), 2000), /answered HTTP 503: .*TSDB not ready/);
  });

  it("logs in as the operator, and says the password output is wrong on a 401", async () => {
    const users: string[] = [];
    server = await startStandIn((req, res) => {
      users.push(Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString());
      sendJson(res, 401, "Unauthorized");
    });
    const outputs = { ...testOutputs({ prometheusUrl: server.url }), monitoringOperatorPassword: "stale" };
    await assert.rejects(prometheusTargets(outputs, 2000), /^Error: Prometheus refused operator's password \(HTTP 401\): the stack output monitoringOperatorPassword/);
    assert.deepEqual(users, [`${outputs.monitoringOperatorUser}:stale`]);
  });

  it("fails when there is no target at all", async () => {
    server = await prometheus([], []);
    await assert.rejects(prometheusTargets(testOutputs({ prometheusUrl: server.url }), 2000), /no active targets/);
  });

  const sample = (value: string, labels: Record<string, string>) => ({ metric: labels, value: [1748772000, value] });
  const nodeUp = (member: string, value = "1") => sample(value, { __name__: "up", job: "node", member, instance: `${member}:9100` });

  it("reports node_exporter up on every member the outputs list, or names the members down or not scraped", async () => {
    const outputs = (url: string) => clusterOutputs(testOutputs({ prometheusUrl: url }));
    const all = ["logging", "logging-2", "logging-3", "web", "kafka", "kafka-2", "kafka-3", "monitoring"];
    server = await prometheus([], [], { 'up{job="node"}': all.map((m) => nodeUp(m)) });
    assert.equal(await nodeExportersPerMember(outputs(server.url), 2000), `8 members up (${all.join(", ")})`);
    await server.close();
    server = await prometheus([], [], { 'up{job="node"}': [...all.filter((m) => m !== "kafka-2" && m !== "logging-3").map((m) => nodeUp(m)), nodeUp("logging-3", "0")] });
    await assert.rejects(nodeExportersPerMember(outputs(server.url), 2000),
      /^Error: 2 of 8 members not up: logging-3 down \(logging-3:9100\): .*; kafka-2 is not a scrape target/);
  });

  it("counts the Kafka exporter's brokers against the kafka members", async () => {
    const brokers = (n: string) => ({ 'kafka_brokers{job="kafka-exporter"}': [sample(n, { job: "kafka-exporter", member: "kafka" })] });
    server = await prometheus([], [], brokers("3"));
    assert.equal(await kafkaBrokers(clusterOutputs(testOutputs({ prometheusUrl: server.url })), 2000),
      "3 of 3 broker(s) in the cluster (kafka members: kafka, kafka-2, kafka-3)");
    await assert.rejects(kafkaBrokers(testOutputs({ prometheusUrl: server.url }), 2000), /^Error: 3 of 1 broker\(s\)/);
    await server.close();
    server = await prometheus([], [], brokers("2"));
    await assert.rejects(kafkaBrokers(clusterOutputs(testOutputs({ prometheusUrl: server.url })), 2000),
      /^Error: 2 of 3 broker\(s\) in the cluster .*docker compose logs kafka on each kafka host/);
    await server.close();
    server = await prometheus([], [], { 'kafka_brokers{job="kafka-exporter"}': [] });
    await assert.rejects(kafkaBrokers(testOutputs({ prometheusUrl: server.url }), 2000), /no kafka_brokers series/);
  });

  it("names a firing alert's member rather than its role", async () => {
    server = await prometheus([alert("ElasticsearchNodeMissing", "firing", { severity: "critical", role: "logging", member: "logging-2" })]);
    await assert.rejects(prometheusAlerts(testOutputs({ prometheusUrl: server.url }), 2000), /firing: ElasticsearchNodeMissing\[critical\] \(logging-2\)/);
  });
});
