import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FIXTURES_DIR } from "../helpers/monitoring";
import { exportOf, runImport, startGrafanaCom } from "../helpers/grafana-com";
import { freePort } from "../helpers/local-servers";

/**
 * The grafana.com import on a bad day: the real script (local Node) against a loopback grafana.com that fails in each
 * way the real one can. Grafana waits for this job, so every failure must warn, keep the last good copy and exit 0.
 */

const SYNTHETIC = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, "grafana-com", "synthetic-dashboard.json"), "utf8")) as Record<string, unknown>;
const GOOD = "grafana-com-1860.json";
/** The script's attempts for an error that may pass (network, 5xx, a body cut off); a 404 is asked once. */
const ATTEMPTS = 4;

describe("grafana.com import failures (hosts/monitoring/grafana-com/import-dashboards.mjs)", () => {
  let out: string;
  beforeEach(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), "grafana-com-"))));
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  const readGood = () => JSON.parse(fs.readFileSync(path.join(out, GOOD), "utf8")) as { uid: string; title: string };

  it("imports a good download and replaces the earlier copy", async () => {
    fs.writeFileSync(path.join(out, GOOD), JSON.stringify({ uid: "grafana-com-1860", title: "older revision" }));
    const site = await startGrafanaCom({ "1860": exportOf(SYNTHETIC) });
    try {
      const run = await runImport(out, "1860:42", site.url);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stderr, "");
      assert.match(run.stdout, /imported grafana.com dashboard 1860 revision 42/);
    } finally {
      await site.close();
    }
    assert.equal(readGood().title, SYNTHETIC.title);
    assert.deepEqual(fs.readdirSync(out), [GOOD], "no temporary file is left behind");
  });

  it("warns and exits 0 when grafana.com is unreachable, after retrying", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const run = await runImport(out, "1860:42", closed);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /WARNING: grafana.com dashboard 1860 revision 42 not imported: .*; no earlier copy to keep/);
    assert.deepEqual(fs.readdirSync(out), []);
  });

  it("warns once, without retrying, for a revision grafana.com does not have (404)", async () => {
    const site = await startGrafanaCom({});
    try {
      const run = await runImport(out, "1860:999", site.url);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /dashboard 1860 revision 999 not imported: .*HTTP 404/);
      assert.deepEqual(site.requests, ["/api/dashboards/1860/revisions/999/download"]);
    } finally {
      await site.close();
    }
    assert.deepEqual(fs.readdirSync(out), []);
  });

  it("retries a body that is not JSON, then warns", async () => {
    const site = await startGrafanaCom({ "1860": { status: 200, body: '{"title": "cut off' } });
    try {
      const run = await runImport(out, "1860:42", site.url);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /dashboard 1860 revision 42 not imported: .*JSON/);
      assert.equal(site.requests.length, ATTEMPTS);
    } finally {
      await site.close();
    }
    assert.deepEqual(fs.readdirSync(out), []);
  });

  it("keeps the last good copy when a later download fails, and still imports the others", async () => {
    const good = await startGrafanaCom({ "1860": exportOf(SYNTHETIC) });
    try {
      assert.equal((await runImport(out, "1860:42", good.url)).status, 0);
    } finally {
      await good.close();
    }
    const before = fs.readFileSync(path.join(out, GOOD), "utf8");

    // 1860 now fails (a wrong revision); 2 is new and downloads fine.
    const site = await startGrafanaCom({ "2": exportOf({ ...SYNTHETIC, title: "second" }) });
    try {
      const run = await runImport(out, "1860:43 2:1", site.url);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`dashboard 1860 revision 43 not imported: .*HTTP 404; keeping the last good copy ${GOOD}`));
      assert.match(run.stdout, /imported grafana.com dashboard 2 revision 1/);
    } finally {
      await site.close();
    }
    assert.equal(fs.readFileSync(path.join(out, GOOD), "utf8"), before, "the last good copy is untouched");
    assert.deepEqual(fs.readdirSync(out).sort(), [GOOD, "grafana-com-2.json"]);
  });
});
