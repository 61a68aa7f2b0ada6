import assert from "node:assert/strict";
import { alertFails, prometheusAlerts, prometheusTargets } from "../../verify/prometheus";
import { sendJson, StandIn, startStandIn, testOutputs } from "../helpers/verify-stand-ins";

/** Answers /api/v1/alerts and /api/v1/targets in Prometheus' HTTP API shape. */
async function prometheus(alerts: unknown[], targets: unknown[] = []): Promise<StandIn> {
  return startStandIn((req, res) => {
    if (req.url === "/api/v1/alerts") return sendJson(res, 200, { status: "success", data: { alerts } });
    if (req.url === "/api/v1/targets?state=active") return sendJson(res, 200, { status: "success", data: { activeTargets: targets, droppedTargets: [] } });
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

  it("fails when there is no target at all", async () => {
    server = await prometheus([], []);
    await assert.rejects(prometheusTargets(testOutputs({ prometheusUrl: server.url }), 2000), /no active targets/);
  });
});
