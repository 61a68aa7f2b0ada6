import assert from "node:assert/strict";
import { EsContext } from "../../verify/elasticsearch";
import { endToEndLatency, markerQuery, median } from "../../verify/latency";
import { closedPort, mockedElasticsearch, sendJson, StandIn, startStandIn, testOutputs } from "../helpers/verify-stand-ins";

const OPTS = { samples: 3, waitMs: 5000, pollMs: 20 };

describe("verify: end-to-end latency", () => {
  let gateway: StandIn;
  afterEach(async () => gateway?.close());

  /** The gateway stand-in logs what it answers; the Elasticsearch mock finds a logged URI after `lagPolls` polls. */
  async function pipeline(lagPolls: number): Promise<EsContext> {
    gateway = await startStandIn((_req, res) => sendJson(res, 200, { status: "ok" }));
    const polls = new Map<string, number>();
    const { mock, es } = mockedElasticsearch();
    mock.add({ method: "POST", path: "/:index/_count" }, (params) => {
      assert.equal(params.path, "/gateway-access-*/_count");
      const query = (params.body as { query: { bool: { should: { term: Record<string, string> }[] } } }).query;
      const uri = query.bool.should[0].term["request.uri"];
      const n = (polls.get(uri) ?? 0) + 1;
      polls.set(uri, n);
      return { count: gateway.seen.includes(uri) && n > lagPolls ? 1 : 0 };
    });
    return { es, outputs: testOutputs({ gatewayUrl: gateway.url }), timeoutMs: 2000 };
  }

  it("sends marked requests and reports min/median/max once every marker is searchable", async () => {
    const ctx = await pipeline(2);
    const detail = await endToEndLatency(ctx, OPTS);
    assert.match(detail, /^3 requests: min \d+\.\ds, median \d+\.\ds, max \d+\.\ds \(poll every 0\.02s\)$/);
    assert.equal(gateway.seen.length, 3);
    assert.equal(new Set(gateway.seen).size, 3, "each request carries its own marker");
    for (const uri of gateway.seen) assert.match(uri, /^\/health\?verify=verify-[0-9a-f]{12}-\d$/);
  });

  it("fails when the marked requests never become searchable", async () => {
    const ctx = await pipeline(Infinity);
    await assert.rejects(endToEndLatency(ctx, { ...OPTS, waitMs: 200 }), /3 of 3 marked requests not searchable after 0\.2s/);
  });

  it("fails naming the web host and its port-80 rule when the gateway is unreachable", async () => {
    const ctx = await pipeline(0);
    ctx.outputs = testOutputs({ gatewayUrl: `http://127.0.0.1:${await closedPort()}` });
    await assert.rejects(endToEndLatency(ctx, OPTS), /the gateway .* is unreachable: web host 203\.0\.113\.11, tcp\/80 refused the connection/);
  });

  it("searches the URI, the query string and the raw line", () => {
    const q = markerQuery("/health?verify=m1", "m1");
    assert.deepEqual(q.bool.should, [
      { term: { "request.uri": "/health?verify=m1" } },
      { term: { "request.querystring": "verify=m1" } },
      { match_phrase: { log: "m1" } },
    ]);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });
});
