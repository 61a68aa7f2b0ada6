import assert from "node:assert/strict";
import { INDEX_PREFIXES } from "../../components/platform/naming";
import { markerQuery } from "../../verify/latency";
import { loadDashboardUids, loadDatasourceUids, loadIndexTemplate, loadKibanaObjects, repoDirs } from "../../verify/provisioning";
import { gatewayLogFormat } from "../helpers/gateway-log";
import { loadSavedObjects } from "../helpers/kibana-objects";

/** `npm run verify` reads the repo's own provisioning files: these must stay readable by its loaders. */
describe("verify: the repo's provisioning files, as verify reads them", () => {
  const dirs = repoDirs();

  it("every Kibana saved object, by its fixed id", () => {
    const ids = loadKibanaObjects(dirs.kibanaObjects).map((o) => `${o.type}/${o.id}`).sort();
    assert.deepEqual(ids, loadSavedObjects().map((o) => `${o.object.type}/${o.object.id}`).sort());
  });

  it("the fixed Grafana datasource uids and the dashboards", () => {
    const uids = loadDatasourceUids(dirs.grafanaDatasources).map((d) => d.uid);
    for (const uid of ["prometheus", "elasticsearch-gateway"]) assert.ok(uids.includes(uid), `datasource ${uid} in ${uids.join(", ")}`);
    assert.ok(loadDashboardUids(dirs.grafanaDashboards).length > 0);
  });

  it("the gateway template maps the fields verify queries with the types its queries need", () => {
    const t = loadIndexTemplate(dirs.indexTemplates, `${INDEX_PREFIXES.gateway}-*`);
    assert.equal(typeof t.policy, "string", "the template names its ILM policy");
    const exact = (type: string | undefined) => type === "keyword" || type === "wildcard";
    const queried = markerQuery("/x", "m").bool.should.flatMap((clause) => Object.entries(clause));
    for (const [kind, fields] of queried) {
      for (const field of Object.keys(fields)) {
        const type = t.fields.get(field);
        assert.ok(kind === "term" ? exact(type) : type === "text", `${kind} on ${field}, mapped as ${type}`);
      }
    }
    assert.equal(t.fields.get("@timestamp"), "date");
    assert.ok(t.fields.has("response.status"), "the sample document query filters on response.status");
  });

  it("the gateway logs the marker where the latency query looks for it", () => {
    // markerQuery matches request.uri against the request line verbatim and request.querystring against its arguments.
    const { template } = gatewayLogFormat();
    assert.match(template, /"uri":"\$request_uri"/);
    assert.match(template, /"querystring":"\$args"/);
  });
});
