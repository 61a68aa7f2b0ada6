// Day 2 on one host: which services a change recreates (compose's own config hash), and what the bundle's remote
// steps leave on disk when Pulumi runs them again after a connection-only change or a content change.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { registered, Registered } from "../setup";
import { Bundle } from "../../components/bundles/bundle";
import { MOUNTED_FILES_OVERRIDE } from "../../components/bundles/files";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { Role } from "../../components/platform/roles";
import { runTool } from "../helpers/tools";
import { assembleBundle, copyBundleSources } from "../helpers/assemble-bundle";
import { clusterFacts, SAMPLE_FACTS, sampleEnv } from "../helpers/sample-facts";
import { renderScrapeTargets, SCRAPE_TARGETS_DIR } from "../../components/bundles/scrape-targets";

/**
 * Every service as docker-compose resolves it (both compose files merged, `.env` interpolated and read in): compose
 * recreates a service on `up` when this resolved definition changed (v2 hashes it into the
 * `com.docker.compose.config-hash` label). `config --hash` would need a Docker engine; the definitions do not.
 */
async function serviceHashes(role: Role, options: Parameters<typeof assembleBundle>[1] = {}): Promise<Record<string, string>> {
  const dir = await assembleBundle(role, options);
  try {
    const result = runTool("docker-compose", ["config"], "docker-compose", { cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    // Bind-mount sources come out absolute: the host's folder is the same on every deploy, the temp folder is not.
    const services = (parse(result.stdout.split(dir).join("/opt/bundle")) as { services: Record<string, unknown> }).services;
    return Object.fromEntries(Object.entries(services).map(([name, definition]) => [name, JSON.stringify(definition)]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const changed = (before: Record<string, string>, after: Record<string, string>) =>
  Object.keys(after).filter((service) => before[service] !== after[service]).sort();

describe("a bundle change recreates only the services it touches (docker-compose config)", () => {
  let sources: string;
  before(() => { sources = copyBundleSources("logging"); });
  after(() => fs.rmSync(sources, { recursive: true, force: true }));

  it("nothing changed: every hash stays, so a second `up` recreates nothing", async () => {
    assert.deepEqual(changed(await serviceHashes("logging"), await serviceHashes("logging", { root: sources })), []);
  });

  it("a Kibana saved-object file changed: only the Kibana import runs again", async () => {
    const before = await serviceHashes("logging", { root: sources });
    const file = path.join(sources, "provisioning/kibana/dashboards.ndjson");
    fs.appendFileSync(file, "\n");
    assert.deepEqual(changed(before, await serviceHashes("logging", { root: sources })), ["kibana-import"]);
  });

  it("the forwarder's config changed: the forwarder restarts, not the aggregator beside it", async () => {
    const before = await serviceHashes("logging", { root: sources });
    fs.appendFileSync(path.join(sources, "forwarder/fluent-bit.yaml"), "\n");
    assert.deepEqual(changed(before, await serviceHashes("logging", { root: sources })), ["fluent-bit-forwarder"]);
  });

  it("the Elasticsearch heap changed: Elasticsearch restarts, nothing else", async () => {
    const env = sampleEnv("logging");
    const before = await serviceHashes("logging", { env });
    const after = await serviceHashes("logging", { env: { ...env, ES_HEAP_SIZE: "5g" } });
    assert.deepEqual(changed(before, after), ["elasticsearch"]);
  });

  it("an alert receiver changed: the secrets copy runs again and Alertmanager restarts, Prometheus does not", async () => {
    const before = await serviceHashes("monitoring", { alertSecrets: { webhookUrl: "https://hooks.example.com/a" } });
    const after = await serviceHashes("monitoring", { alertSecrets: { webhookUrl: "https://hooks.example.com/b" } });
    assert.deepEqual(changed(before, after), ["alertmanager", "secrets"]);
  });

  it("the scrape targets changed (logging grown from 1 to 3 members): no monitoring service is recreated", async () => {
    const grown = clusterFacts({ logging: 3 });
    const before = await serviceHashes("monitoring", { env: sampleEnv("monitoring"), members: SAMPLE_FACTS.members });
    const after = await serviceHashes("monitoring", { env: sampleEnv("monitoring", 0, grown), members: grown.members });
    // The targets files did change (the bundle is redeployed): Prometheus reads them live from its mounted folder.
    const targets = (members: typeof grown.members) => renderScrapeTargets(members)[`${SCRAPE_TARGETS_DIR}/node.json`];
    assert.notEqual(targets(grown.members), targets(SAMPLE_FACTS.members));
    assert.deepEqual(changed(before, after), []);
  });

  for (const file of ["prometheus/prometheus.yml", "prometheus/rules/alerts.yml"]) {
    it(`${file} changed: Prometheus restarts (it reads it at start only), nothing else`, async () => {
      const monitoring = copyBundleSources("monitoring");
      try {
        const before = await serviceHashes("monitoring", { root: monitoring });
        fs.appendFileSync(path.join(monitoring, "hosts/monitoring", file), "\n");
        assert.deepEqual(changed(before, await serviceHashes("monitoring", { root: monitoring })), ["prometheus"]);
      } finally {
        fs.rmSync(monitoring, { recursive: true, force: true });
      }
    });
  }

  it("a Grafana dashboard changed: Grafana restarts, Prometheus does not", async () => {
    const monitoring = copyBundleSources("monitoring");
    try {
      const before = await serviceHashes("monitoring", { root: monitoring });
      fs.appendFileSync(path.join(monitoring, "provisioning/grafana/dashboards/platform/hosts.json"), "\n");
      assert.deepEqual(changed(before, await serviceHashes("monitoring", { root: monitoring })), ["grafana"]);
    } finally {
      fs.rmSync(monitoring, { recursive: true, force: true });
    }
  });
});

/**
 * Replays the steps of a Bundle registered on the Pulumi mocks against a folder standing in for the host: each
 * command's `create` run by sh (as an Update without an `update` command runs it), and each CopyToRemote copied the
 * way the provider copies a folder. `sudo` runs its arguments; `docker` only records them.
 */
describe("the bundle's remote steps, replayed as Pulumi runs them", function () {
  let host: string;
  let stubs: string;
  const dockerLog = () => path.join(host, "docker.log");

  before(() => {
    host = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-host-"));
    stubs = path.join(host, "bin");
    fs.mkdirSync(stubs);
    fs.writeFileSync(path.join(stubs, "sudo"), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(stubs, "docker"), `#!/bin/sh\necho "$*" >> '${dockerLog()}'\n`, { mode: 0o755 });
  });
  after(() => fs.rmSync(host, { recursive: true, force: true }));

  interface Steps { prepare: Registered; copies: Registered[]; rendered: Registered; up: Registered }

  async function register(name: string, env: Record<string, string>): Promise<Steps> {
    new Bundle(name, {
      role: "kafka",
      connection: { host: "192.0.2.10" },
      hostId: "i-0123456789",
      bundleRoot: path.join(host, "opt"),
      folders: BUNDLE_SOURCES.kafka,
      env,
      dependsOn: [],
    }).start([]);
    const steps = () => registered.filter((r) => r.name.startsWith(`${name}-`));
    for (let i = 0; i < 500 && steps().length < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    const step = (suffix: string) => {
      const found = steps().find((r) => r.name === `${name}-${suffix}`);
      assert.ok(found, `${name}-${suffix} not registered`);
      return found;
    };
    return { prepare: step("prepare"), copies: steps().filter((r) => r.type === "command:remote:CopyToRemote"), rendered: step("rendered"), up: step("up") };
  }

  const run = (command: Registered) => {
    const result = runTool("sh", ["-c", command.inputs.create as string], "dash", {
      input: command.inputs.stdin as string | undefined,
      env: { ...process.env, PATH: `${stubs}:${process.env.PATH}` },
    });
    assert.equal(result.status, 0, `${command.name}: ${result.stderr}`);
  };
  // remote.CopyToRemote with a folder source without a trailing slash: <remotePath>/<basename>, parent made if absent.
  const copy = (command: Registered) => {
    const source = (command.inputs.source as { path: string }).path;
    const remotePath = command.inputs.remotePath as string;
    if (!fs.existsSync(remotePath)) fs.mkdirSync(remotePath);
    fs.cpSync(source, path.join(remotePath, path.basename(source)), { recursive: true });
  };
  const deploy = (steps: Steps, { copying }: { copying: boolean }) => {
    run(steps.prepare);
    if (copying) steps.copies.forEach(copy);
    run(steps.rendered);
    run(steps.up);
  };
  const bundleDir = () => path.join(host, "opt", "kafka");
  const listing = (dir: string): Record<string, number> =>
    Object.fromEntries((fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((file) => [file, fs.statSync(path.join(dir, file)).ino]));

  let first: Record<string, number>;
  let firstSteps: Steps;

  it("first deploy: lays the bundle down with its rendered files and starts it without forcing a recreate", async () => {
    firstSteps = await register("replay-first", sampleEnv("kafka"));
    deploy(firstSteps, { copying: true });
    first = listing(bundleDir());
    for (const file of ["compose.yaml", "setup/create-topics.sh", "checks/pipeline.sh", ".env", MOUNTED_FILES_OVERRIDE]) {
      assert.ok(file in first, `${file} missing after the first deploy`);
    }
    assert.equal(fs.statSync(path.join(bundleDir(), ".env")).mode & 0o777, 0o600);
    const compose = fs.readFileSync(dockerLog(), "utf8");
    assert.match(compose, /^compose up --detach --wait .*--remove-orphans$/m);
    assert.doesNotMatch(compose, /--force-recreate/);
  });

  it("a new public IP with the same content: every command runs again, nothing is copied, nothing is lost", async () => {
    // Same content, so the same staging path: the provider's Update of a CopyToRemote copies nothing.
    const again = await register("replay-new-ip", sampleEnv("kafka"));
    assert.deepEqual(again.copies.map((c) => c.inputs.remotePath), firstSteps.copies.map((c) => c.inputs.remotePath));
    deploy(again, { copying: false });
    assert.deepEqual(listing(bundleDir()), first, "the bundle folder changed (files lost, added or rewritten)");
  });

  it("a content change: copied to a new staging folder, synced in place, earlier stagings removed", async () => {
    fs.writeFileSync(path.join(bundleDir(), "left-over.txt"), "from an older bundle\n");
    const env = { ...sampleEnv("kafka"), KAFKA_RETENTION_HOURS: "72" };
    deploy(await register("replay-changed", env), { copying: true });
    const now = listing(bundleDir());
    assert.ok(!("left-over.txt" in now), "a file the bundle no longer has stayed behind");
    assert.match(fs.readFileSync(path.join(bundleDir(), ".env"), "utf8"), /KAFKA_RETENTION_HOURS='72'/);
    // Files whose content did not change keep their inode: a running container's bind mount still sees them.
    assert.equal(now["compose.yaml"], first["compose.yaml"]);
    assert.equal(now["setup/create-topics.sh"], first["setup/create-topics.sh"]);
    assert.equal(fs.readdirSync(path.join(host, "opt", ".staging")).length, 1);
  });
});
