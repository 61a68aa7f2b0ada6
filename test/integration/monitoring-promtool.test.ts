import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderScrapeTargets } from "../../components/scrape-targets";
import { loadAlertRules, PROMETHEUS_DIR, PROMTOOL_TESTS, readYaml } from "../helpers/monitoring";
import { SAMPLE_FACTS } from "../helpers/sample-facts";
import { runTool } from "../helpers/tools";

/** Debian's promtool (2.42) on the monitoring bundle's config and rules; the container runs a newer 2.x. */

const promtool = (...args: string[]) => runTool("promtool", args, "prometheus");
const output = (r: { stdout: string; stderr: string }) => `${r.stdout}${r.stderr}`;

describe("monitoring: promtool on the Prometheus config and alert rules", () => {
  let bundle: string;

  before(() => {
    // The bundle as deployed: the prometheus folder plus the file_sd targets the program renders beside it.
    bundle = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-bundle-"));
    fs.cpSync(PROMETHEUS_DIR, path.join(bundle, "prometheus"), { recursive: true });
    for (const [file, content] of Object.entries(renderScrapeTargets(SAMPLE_FACTS.members))) {
      fs.mkdirSync(path.dirname(path.join(bundle, file)), { recursive: true });
      fs.writeFileSync(path.join(bundle, file), content);
    }
  });
  after(() => fs.rmSync(bundle, { recursive: true, force: true }));

  it("check config: valid, with every rendered file_sd file present and valid and the rule files found", () => {
    const result = promtool("check", "config", path.join(bundle, "prometheus", "prometheus.yml"));
    assert.equal(result.status, 0, output(result));
    assert.doesNotMatch(output(result), /WARNING/, "every file_sd file the config reads was rendered");
    assert.match(output(result), /SUCCESS: 1 rule files found/);
  });

  it("check rules: every rule file is valid", () => {
    const dir = path.join(PROMETHEUS_DIR, "rules");
    const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
    const result = promtool("check", "rules", ...files);
    assert.equal(result.status, 0, output(result));
    assert.match(output(result), new RegExp(`SUCCESS: ${loadAlertRules().length} rules found`));
  });

  it("test rules: every alert has a case where it fires and one where it stays quiet", () => {
    interface AlertTest { alertname: string; exp_alerts: unknown[] }
    const doc = readYaml<{ tests: { alert_rule_test?: AlertTest[] }[] }>(PROMTOOL_TESTS);
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    const missing = loadAlertRules().flatMap(({ alert }) => [
      ...(cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0) ? [] : [`${alert} never fires`]),
      ...(cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0) ? [] : [`${alert} is never checked quiet`]),
    ]);
    assert.deepEqual(missing, []);
  });

  it("test rules: promtool passes the unit tests", () => {
    const result = promtool("test", "rules", PROMTOOL_TESTS);
    assert.equal(result.status, 0, output(result));
    assert.match(output(result), /SUCCESS/);
  });
});
