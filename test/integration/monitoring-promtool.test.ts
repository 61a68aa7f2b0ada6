import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderScrapeTargets } from "../../components/bundles/scrape-targets";
import { loadAlertRules, PROMETHEUS_DIR, PROMTOOL_TESTS, readYaml } from "../helpers/monitoring";
import { clusterFacts, SAMPLE_FACTS } from "../helpers/sample-facts";
import { runTool } from "../helpers/tools";

/** Debian's promtool (2.42) on the monitoring bundle's config and rules; the container runs a newer 2.x. */

const promtool = (...args: string[]) => runTool("promtool", args, "prometheus");
const output = (r: { stdout: string; stderr: string }) => `${r.stdout}${r.stderr}`;

describe("monitoring: promtool on the Prometheus config and alert rules", () => {
  const platforms = { "one host per role": SAMPLE_FACTS, "3 logging and 3 kafka members": clusterFacts({ logging: 3, kafka: 3 }) };
  const bundles: Record<string, string> = {};

  before(() => {
    // The bundle as deployed: the prometheus folder plus the file_sd targets the program renders beside it.
    for (const [platform, facts] of Object.entries(platforms)) {
      const bundle = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-bundle-"));
      bundles[platform] = bundle;
      fs.cpSync(PROMETHEUS_DIR, path.join(bundle, "prometheus"), { recursive: true });
      for (const [file, content] of Object.entries(renderScrapeTargets(facts.members))) {
        fs.mkdirSync(path.dirname(path.join(bundle, file)), { recursive: true });
        fs.writeFileSync(path.join(bundle, file), content);
      }
    }
  });
  after(() => Object.values(bundles).forEach((bundle) => fs.rmSync(bundle, { recursive: true, force: true })));

  for (const platform of Object.keys(platforms)) {
    it(`check config (${platform}): valid, with every rendered file_sd file present and valid and the rule files found`, () => {
      const result = promtool("check", "config", path.join(bundles[platform], "prometheus", "prometheus.yml"));
      assert.equal(result.status, 0, output(result));
      assert.doesNotMatch(output(result), /WARNING/, "every file_sd file the config reads was rendered");
      assert.match(output(result), /SUCCESS: 1 rule files found/);
    });
  }

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
