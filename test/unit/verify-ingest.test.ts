import assert from "node:assert/strict";
import { EsContext } from "../../verify/elasticsearch";
import { ForwardConnectionError, ForwardCredentials, ForwardEntry, ForwardRefusedError, ForwardTarget, sendForward } from "../../verify/forward";
import { ingestDelivery, VERIFY_SERVICE } from "../../verify/ingest";
import { parseOutputs } from "../../verify/outputs";
import { mockedElasticsearch, testOutputs } from "../helpers/verify-stand-ins";

const OPTS = { waitMs: 2000, pollMs: 10 };

interface Sent { target: ForwardTarget; credentials: ForwardCredentials; tag: string; entries: ForwardEntry[] }

describe("verify: a record through the ingest endpoint into apps-*", () => {
  /**
   * A forward stub that keeps what it was given (or fails with `refuse`), and an Elasticsearch mock that finds the
   * sent record in apps-* from the `foundAfter`th search on, as `shape` makes it.
   */
  function pipeline(opts: { foundAfter?: number; refuse?: Error; shape?: (log: string) => Record<string, unknown> } = {}) {
    const sent: Sent[] = [];
    const searches: unknown[] = [];
    const forward: typeof sendForward = async (target, credentials, tag, entries) => {
      if (opts.refuse) throw opts.refuse;
      sent.push({ target, credentials, tag, entries });
      return { serverHostname: "ingest", chunk: "c1" };
    };
    const { mock, es } = mockedElasticsearch();
    mock.add({ method: "POST", path: "/:index/_search" }, (params) => {
      assert.equal(decodeURIComponent(String(params.path)), "/apps-*/_search");
      searches.push(params.body);
      const log = sent[0]?.entries[0].record.log as string;
      const found = sent.length > 0 && searches.length >= (opts.foundAfter ?? 1);
      const source = (opts.shape ?? ((l) => ({ log: l, "service.name": VERIFY_SERVICE, "ingest.protocol": "forward" })))(log);
      return { hits: { hits: found ? [{ _index: "apps-2025.06.01", _id: "platform:1", _source: source }] : [] } };
    });
    const ctx: EsContext = { es, outputs: testOutputs(), timeoutMs: 1000 };
    return { ctx, sent, searches, forward };
  }

  it("sends one marked record as the platform source, over TLS to the forward port's local end, and finds it by its marker", async () => {
    const { ctx, sent, searches, forward } = pipeline({ foundAfter: 3 });
    const detail = await ingestDelivery(ctx, OPTS, forward);
    assert.equal(sent.length, 1);
    const [{ target, credentials, tag, entries }] = sent;
    assert.deepEqual(target, { host: "127.0.0.1", port: 24224, ca: ctx.outputs.ingest.caCertificate });
    assert.deepEqual(credentials, { sharedKey: "shared-key", username: "platform", password: "platform-password" });
    assert.equal(tag, VERIFY_SERVICE, "the tag names the service");
    assert.equal(entries.length, 1);
    const marker = /verify-ingest-[0-9a-f]{12}/.exec(String(entries[0].record.log))?.[0];
    assert.ok(marker, String(entries[0].record.log));
    assert.equal(searches.length, 3, "polls until the record is searchable");
    assert.deepEqual(searches[0], { size: 1, query: { match_phrase: { log: marker } } });
    assert.match(detail, /^a record sent as platform was acked and searchable in apps-2025\.06\.01 after \d+\.\ds \(service\.name platform-verify, ingest\.protocol forward\)$/);
  });

  it("uses the tunnel's local end on aws: the port of ingest.localForwardPort", async () => {
    const { ctx, sent, forward } = pipeline();
    ctx.outputs = { ...ctx.outputs, ingest: { ...ctx.outputs.ingest, localForwardPort: 24299 } };
    await ingestDelivery(ctx, OPTS, forward);
    assert.equal(sent[0].target.port, 24299);
  });

  it("fails when the record does not carry its service name, or is never searchable", async () => {
    const wrong = pipeline({ shape: (log) => ({ log, "service.name": "unknown" }) });
    await assert.rejects(ingestDelivery(wrong.ctx, OPTS, wrong.forward), /holds the marked record, but its service\.name is "unknown", not platform-verify/);
    const never = pipeline({ foundAfter: Infinity });
    await assert.rejects(ingestDelivery(never.ctx, { waitMs: 100, pollMs: 10 }, never.forward),
      /the endpoint acknowledged the marked record \(verify-ingest-[0-9a-f]{12}\), but it is not in apps-\* after 0\.1s: look downstream/);
  });

  it("names the credentials when the endpoint refuses them, and the port when nothing answers there", async () => {
    const refused = pipeline({ refuse: new ForwardRefusedError("the server refused platform: username/password mismatch") });
    await assert.rejects(ingestDelivery(refused.ctx, OPTS, refused.forward),
      /^Error: the ingest endpoint \(127\.0\.0\.1:24224, web host 203\.0\.113\.11 tcp\/24224\) refused the stack's own source platform: the server refused platform: username\/password mismatch\. The ingestCredentials output is not what the endpoint checks/);
    const closed = pipeline({ refuse: new ForwardConnectionError("connect ECONNREFUSED 127.0.0.1:24224 (while connecting)", "ECONNREFUSED") });
    await assert.rejects(ingestDelivery(closed.ctx, OPTS, closed.forward), /refused the connection: nothing listens there\. Check the ingest service on the web host/);
    closed.ctx.outputs = { ...closed.ctx.outputs, tunnels: [{ member: "web", host: "203.0.113.11", sshPort: 22, ports: [24224] }] };
    await assert.rejects(ingestDelivery(closed.ctx, OPTS, closed.forward), /the SSH tunnel's forward to the web host found nothing on the port/);
    const untrusted = pipeline({ refuse: new ForwardConnectionError("self-signed certificate in certificate chain", "SELF_SIGNED_CERT_IN_CHAIN") });
    await assert.rejects(ingestDelivery(untrusted.ctx, OPTS, untrusted.forward), /presented a certificate the stack's CA did not sign .*output ingest\.caCertificate/);
  });

  it("fails before sending when the credentials lack the platform source", async () => {
    const { ctx, sent, forward } = pipeline();
    ctx.outputs = { ...ctx.outputs, ingestCredentials: { ...ctx.outputs.ingestCredentials, sources: {} } };
    await assert.rejects(ingestDelivery(ctx, OPTS, forward), /the ingestCredentials output has no source platform \(it lists none\)/);
    assert.equal(sent.length, 0);
  });

  it("reads the ingest outputs, naming what is missing or malformed", () => {
    const outputs = testOutputs();
    assert.deepEqual(parseOutputs(outputs).ingest, outputs.ingest);
    const { ingestCredentials, ...withoutCredentials } = outputs;
    assert.ok(ingestCredentials);
    assert.throws(() => parseOutputs(withoutCredentials), /must have required property 'ingestCredentials'/);
    const broken = { ...outputs, ingest: { ...outputs.ingest, localForwardPort: "24224", caCertificate: "not a pem" } };
    assert.throws(() => parseOutputs(broken), (err: Error) => {
      assert.match(err.message, /\/ingest\/localForwardPort must be integer/);
      assert.match(err.message, /\/ingest\/caCertificate must match pattern/);
      return true;
    });
    const noKey = { ...outputs, ingestCredentials: { ...outputs.ingestCredentials, sources: { platform: { password: "p" } } } };
    assert.throws(() => parseOutputs(noKey), /\/ingestCredentials\/sources\/platform must have required property 'clientCertificate'/);
  });
});
