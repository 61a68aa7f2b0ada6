// The container health probe (platform-host/container-health.sh) run here with `docker ps` stood in for: what it
// writes for node_exporter, checked by promtool and against the metric fixture the alert rules are checked with.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PLATFORM_HOST_DIR } from "../../components/targets/platform-host";
import { loadMetricFixtures } from "../helpers/monitoring";
import { runTool } from "../helpers/tools";

describe("container health probe (platform-host/container-health.sh)", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "container-health-"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.mkdirSync(path.join(dir, "textfiles"));
    // `docker ps --all --quiet` gives ids; `docker inspect --format` the probe's line per container.
    const rows = [
      ["kibana", "/logging-kibana-1", "unhealthy", "0"],
      ["elasticsearch", "/logging-elasticsearch-1", "healthy", "0"],
      ["loadgen", "/web-loadgen-1", "", "4"],
      ["", "/someone-elses-container", "", "9"],
    ].map((row) => row.join("|")).join("\n");
    fs.writeFileSync(path.join(dir, "bin", "docker"), [
      "#!/bin/sh",
      'case "$1" in',
      "  ps) printf 'a1\\nb2\\nc3\\nd4\\n' ;;",
      `  inspect) [ "$#" -eq 7 ] || { echo "inspect got $# arguments" >&2; exit 1; }; printf '%s\\n' '${rows}' ;;`,
      "  *) exit 1 ;;",
      "esac",
    ].join("\n") + "\n", { mode: 0o755 });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const probe = () => runTool("sh", [path.join(PLATFORM_HOST_DIR, "container-health.sh")], "dash", {
    env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, TEXTFILE_DIR: path.join(dir, "textfiles") },
  });

  it("writes each compose container's health and restarts, grouped by metric, and nothing half-written", () => {
    const result = probe();
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(fs.readdirSync(path.join(dir, "textfiles")), ["containers.prom"]);
    const samples = fs.readFileSync(path.join(dir, "textfiles", "containers.prom"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    assert.deepEqual(samples, [
      'platform_container_unhealthy{service="kibana",container="logging-kibana-1"} 1',
      'platform_container_unhealthy{service="elasticsearch",container="logging-elasticsearch-1"} 0',
      'platform_container_unhealthy{service="loadgen",container="web-loadgen-1"} 0',
      'platform_container_restarts_total{service="kibana",container="logging-kibana-1"} 0',
      'platform_container_restarts_total{service="elasticsearch",container="logging-elasticsearch-1"} 0',
      'platform_container_restarts_total{service="loadgen",container="web-loadgen-1"} 4',
    ]);
  });

  it("writes what promtool accepts as exposition text, with only metrics the rules' fixture lists for the node job", () => {
    const text = fs.readFileSync(path.join(dir, "textfiles", "containers.prom"), "utf8");
    const lint = runTool("promtool", ["check", "metrics"], "prometheus", { input: text });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    const names = new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split("{")[0]));
    const node = loadMetricFixtures().get("node");
    for (const name of names) assert.ok(node?.has(name), `${name} is not in test/fixtures/monitoring/metrics/node.txt`);
  });
});
