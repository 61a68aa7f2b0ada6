import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { IMAGE_VERSIONS } from "../../components/platform/versions";
import { TEMPLATE_DIR, writeFolder } from "../../user-forwarder/index";
import { runTool } from "../helpers/tools";
import { folderOutputs } from "../helpers/forward-folder";

/** The forwarder folder (`npm run forwarder:folder`) through the real tools: docker-compose and LuaJIT (Fluent Bit's Lua). */
describe("user-forwarder folder with real tools", () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "user-forwarder-it-"))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("docker-compose accepts the rendered folder, and resolves the image, the secrets and the mounts from .env", () => {
    const dir = path.join(tmp, "log-forwarder-team-a");
    writeFolder(folderOutputs(), "team-a", dir);
    const quiet = runTool("docker-compose", ["config", "--quiet"], "docker-compose", { cwd: dir });
    assert.equal(quiet.status, 0, quiet.stdout + quiet.stderr);
    const result = runTool("docker-compose", ["config"], "docker-compose", { cwd: dir });
    assert.equal(result.status, 0, result.stderr);
    const service = (parse(result.stdout) as { services: Record<string, Record<string, unknown>> }).services["log-forwarder"];
    assert.equal(service.image, `fluent/fluent-bit:${IMAGE_VERSIONS.FLUENT_BIT_VERSION}`);
    assert.equal(service.network_mode, "host");
    // .env's values are taken literally: a `$` in a password stays (config prints each `$` as `$$`).
    const environment = Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, v.replace(/\$\$/g, "$")]));
    assert.deepEqual(environment, {
      FORWARD_HOST: "203.0.113.11", FORWARD_PORT: "24224", FORWARD_USERNAME: "team-a", FORWARD_PASSWORD: "team-a-pa$$word",
      SHARED_KEY: "the-shared-key", HOST_NAME: "", LOCAL_FORWARD_PORT: "24224",
    });
    // docker-compose 1.x prints a mount as `source:target:mode`, 2.x as a map.
    const mounts = (service.volumes as (string | { source?: string; target: string })[]).map((v) => (typeof v === "string" ? v.split(":").slice(0, 2).join(":") : `${v.source}:${v.target}`));
    for (const file of ["fluent-bit.yaml", "docker-metadata.lua", "ca.crt"]) assert.ok(mounts.includes(`${path.join(dir, file)}:/fluent-bit/etc/${file}`), mounts.join("\n"));
  });

  describe("docker-metadata.lua under LuaJIT, as Fluent Bit's lua filter and processor call it", () => {
    const luajit = () => {
      const found = (process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, "luajit")).find((f) => fs.existsSync(f));
      assert.ok(found, "luajit is not installed: apt-get install luajit (listed in .ci/apt-packages.txt)");
      return found;
    };
    const COMPOSE_ID = "a".repeat(64);
    const PLAIN_ID = "b".repeat(64);
    const OWN_ID = "c".repeat(64);
    const UNKNOWN_ID = "d".repeat(64);

    /** A /var/lib/docker/containers with the config.v2.json of a compose service, a plain container and the forwarder. */
    function containersDir(): string {
      const dir = path.join(tmp, "containers");
      const config = (id: string, name: string, labels: Record<string, string>) => {
        fs.mkdirSync(path.join(dir, id), { recursive: true });
        // Shaped as Docker writes it: one line, volumes' mount points with names of their own after the container's.
        fs.writeFileSync(path.join(dir, id, "config.v2.json"), JSON.stringify({
          State: { Running: true }, ID: id, Config: { Hostname: id.slice(0, 12), Labels: labels }, Name: `/${name}`,
          MountPoints: { "/data": { Source: "", Destination: "/data", Name: "app_data", Driver: "local" } },
        }));
      };
      config(COMPOSE_ID, "shop-web-1", { "com.docker.compose.service": "web", "com.docker.compose.project": "shop" });
      config(PLAIN_ID, "nightly-report", {});
      config(OWN_ID, "log-forwarder-team-a-log-forwarder-1", { "aws-log-platform.log-forwarder": "true", "com.docker.compose.service": "log-forwarder" });
      return dir;
    }

    function run(calls: string[], env: Record<string, string>): string[] {
      const script = [
        `dofile(${JSON.stringify(path.join(TEMPLATE_DIR, "docker-metadata.lua"))})`,
        "local keys = { 'log', 'stream', 'time', 'container.name', 'host.name', 'fluentbit_service', 'fluentbit_path', 'container_name', 'source' }",
        "function show(code, ts, r) local out = { tostring(code) } if code ~= -1 then for _, k in ipairs(keys) do if r[k] ~= nil then out[#out + 1] = k .. '=' .. tostring(r[k]) end end end print(table.concat(out, ' | ')) end",
        ...calls,
      ].join("\n");
      const result = runTool(luajit(), ["-"], "luajit", { input: script, env: { PATH: process.env.PATH, ...env } });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.trim().split("\n");
    }
    const line = (id: string, log: string) =>
      `show(from_json_file("docker.containers.x", 1, { log = ${JSON.stringify(log)}, stream = "stdout", time = "2025-06-01T10:00:00.000000001Z", fluentbit_path = "/var/lib/docker/containers/${id}/${id}-json.log" }))`;

    it("tags a compose container's lines with its service, a plain container's with its name, and drops its own", () => {
      const hostnameFile = path.join(tmp, "hostname");
      fs.writeFileSync(hostnameFile, "docker-host-7\n");
      const out = run([
        line(COMPOSE_ID, "GET /cart 200\n"),
        line(PLAIN_ID, "report done"),
        line(OWN_ID, "[warn] retrying"),
        line(UNKNOWN_ID, "gone\n"),
        // A json-file line with the compose labels Docker wrote into it (--log-opt labels=...): they win.
        `show(from_json_file("docker.containers.x", 1, { log = "x\\n", attrs = { ["com.docker.compose.service"] = "api" }, fluentbit_path = "/var/lib/docker/containers/${PLAIN_ID}/${PLAIN_ID}-json.log" }))`,
        // Not a tail record: untouched.
        `show(from_json_file("docker.containers.x", 1, { log = "y" }))`,
      ], { DOCKER_CONTAINERS_DIR: containersDir(), HOST_HOSTNAME_FILE: hostnameFile, HOST_NAME: "" });
      assert.deepEqual(out, [
        "2 | log=GET /cart 200 | stream=stdout | container.name=shop-web-1 | host.name=docker-host-7 | fluentbit_service=web",
        "2 | log=report done | stream=stdout | container.name=nightly-report | host.name=docker-host-7 | fluentbit_service=nightly-report",
        "-1",
        `2 | log=gone | stream=stdout | container.name=${UNKNOWN_ID.slice(0, 12)} | host.name=docker-host-7 | fluentbit_service=${UNKNOWN_ID.slice(0, 12)}`,
        "2 | log=x | container.name=nightly-report | host.name=docker-host-7 | fluentbit_service=api",
        "0 | log=y",
      ]);
    });

    it("names the log driver's records as the tail's, and takes HOST_NAME from the environment first", () => {
      const out = run([
        `show(from_log_driver("shop-api", 1, { log = "hello", container_name = "/shop-api-1", container_id = "e1", source = "stderr" }))`,
      ], { DOCKER_CONTAINERS_DIR: containersDir(), HOST_HOSTNAME_FILE: path.join(tmp, "missing"), HOST_NAME: "web-07" });
      assert.deepEqual(out, ["2 | log=hello | stream=stderr | container.name=shop-api-1 | host.name=web-07"]);
    });
  });
});
