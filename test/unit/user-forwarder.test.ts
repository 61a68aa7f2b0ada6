import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseDotEnv } from "dotenv";
import { parse } from "yaml";
import { IMAGE_VERSIONS } from "../../components/platform/versions";
import { folderEnv, main, parseFolderOutputs, TEMPLATE_DIR, TEMPLATE_FILES, writeFolder } from "../../user-forwarder/index";
import { ComposeFile, interpolate } from "../helpers/compose";
import { FOLDER_CA as CA, folderOutputs } from "../helpers/forward-folder";
import { byAlias, isOn, parseConfig, prop, validateConfig } from "../helpers/fluent-bit";

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe("user-forwarder: the forwarder folder for a user's own Docker hosts", () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "user-forwarder-"))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Renders the folder of team-a from literal outputs (no Pulumi) and reads what compose would give the container. */
  function render(outputs = folderOutputs()) {
    const dir = path.join(tmp, "log-forwarder-team-a");
    const written = writeFolder(outputs, "team-a", dir);
    const dotEnv = parseDotEnv(fs.readFileSync(path.join(dir, ".env")));
    const composeText = fs.readFileSync(path.join(dir, "compose.yaml"), "utf8");
    const compose = parse(interpolate(composeText, dotEnv)) as ComposeFile & { services: Record<string, { network_mode?: string; labels?: Record<string, string> }> };
    const service = compose.services["log-forwarder"];
    const environment = service.environment as Record<string, string>;
    return { dir, written, dotEnv, composeText, compose, service, environment };
  }

  it("writes the templates, ca.crt and .env; the folder 0700, .env 0600, the rest 0644", () => {
    const { dir, written } = render();
    assert.deepEqual([...written].sort(), [".env", "README.txt", "ca.crt", "compose.yaml", "docker-metadata.lua", "fluent-bit.yaml"]);
    assert.deepEqual(fs.readdirSync(dir).sort(), [...written].sort());
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(path.join(dir, ".env")), 0o600);
    for (const file of written.filter((f) => f !== ".env")) assert.equal(mode(path.join(dir, file)), 0o644, file);
    for (const name of TEMPLATE_FILES) {
      assert.equal(fs.readFileSync(path.join(dir, name), "utf8"), fs.readFileSync(path.join(TEMPLATE_DIR, name), "utf8"), `${name} is the template`);
    }
    assert.equal(fs.readFileSync(path.join(dir, "ca.crt"), "utf8"), CA);
  });

  it(".env holds the endpoint, the pinned image and the source's secrets, which no other file holds", () => {
    const { dir, dotEnv } = render();
    assert.deepEqual(dotEnv, {
      FLUENT_BIT_VERSION: IMAGE_VERSIONS.FLUENT_BIT_VERSION,
      FORWARD_HOST: "203.0.113.11",
      FORWARD_PORT: "24224",
      FORWARD_USERNAME: "team-a",
      FORWARD_PASSWORD: "team-a-pa$$word",
      SHARED_KEY: "the-shared-key",
      HOST_NAME: "",
      LOCAL_FORWARD_PORT: "24224",
    });
    for (const file of fs.readdirSync(dir).filter((f) => f !== ".env")) {
      const text = fs.readFileSync(path.join(dir, file), "utf8");
      for (const secret of ["team-a-pa$$word", "the-shared-key", "platform-pa$$word", "team-b-pa$$word"]) assert.ok(!text.includes(secret), `${file} holds a secret`);
    }
    assert.ok(!fs.readFileSync(path.join(dir, ".env"), "utf8").includes("team-b-pa$$word"), "another source's password");
  });

  // docker-compose itself checks the file: test/integration/user-forwarder.test.ts.
  it("compose.yaml runs the pinned Fluent Bit with its config, the Lua and the CA mounted, and publishes nothing", () => {
    const { dir, composeText, compose, service, environment } = render();
    assert.equal(service.image, `fluent/fluent-bit:${IMAGE_VERSIONS.FLUENT_BIT_VERSION}`);
    assert.deepEqual(service.command, ["/fluent-bit/bin/fluent-bit", "--config=/fluent-bit/etc/fluent-bit.yaml"]);
    assert.equal(service.network_mode, "host", "the log driver's port is the host's loopback");
    assert.equal(service.ports, undefined);
    assert.equal(service.restart, "unless-stopped");
    assert.equal(service.labels?.["aws-log-platform.log-forwarder"], "true", "the label docker-metadata.lua drops its own lines by");
    const mounts = Object.fromEntries((service.volumes as string[]).map((v) => v.split(":")).map(([from, to]) => [to, from]));
    for (const [file, target] of [["fluent-bit.yaml", "/fluent-bit/etc/fluent-bit.yaml"], ["docker-metadata.lua", "/fluent-bit/etc/docker-metadata.lua"], ["ca.crt", "/fluent-bit/etc/ca.crt"]]) {
      assert.equal(mounts[target], `./${file}`);
      assert.ok(fs.existsSync(path.join(dir, file)));
    }
    assert.equal(mounts["/var/lib/docker/containers"], "/var/lib/docker/containers");
    assert.equal(mounts["/fluent-bit/state"], "state");
    assert.ok(compose.volumes && "state" in compose.volumes);
    assert.equal(environment.FORWARD_PASSWORD, "team-a-pa$$word", "compose passes the secrets on from .env");
    assert.doesNotMatch(composeText, /\bports:/);
  });

  it("fluent-bit.yaml is valid for Fluent Bit 5.1 (the 5.1.1 schema) with the environment compose gives it", () => {
    const { dir, environment } = render();
    const text = fs.readFileSync(path.join(dir, "fluent-bit.yaml"), "utf8");
    assert.deepEqual(validateConfig(text, environment), []);
    // Every variable the config reads comes from compose's environment.
    const { SHARED_KEY, ...withoutKey } = environment;
    assert.equal(SHARED_KEY, "the-shared-key");
    assert.match(validateConfig(text, withoutKey).join("\n"), /\$\{SHARED_KEY\} is not defined/);
  });

  it("fluent-bit.yaml tails the json-file logs with offsets and a disk buffer, and sends over TLS with the key, the user and acks", () => {
    const { dir } = render();
    const config = parseConfig(fs.readFileSync(path.join(dir, "fluent-bit.yaml"), "utf8"));
    const tail = byAlias(config.pipeline?.inputs, "docker_logs");
    assert.equal(prop(tail, "path"), "/var/lib/docker/containers/*/*-json.log");
    assert.equal(prop(tail, "multiline.parser"), "docker");
    assert.match(String(prop(tail, "db")), /^\/fluent-bit\/state\//);
    assert.equal(prop(tail, "storage.type"), "filesystem");
    assert.match(String(config.service?.["storage.path"]), /^\/fluent-bit\/state\//);
    const driver = byAlias(config.pipeline?.inputs, "log_driver");
    assert.deepEqual([prop(driver, "name"), prop(driver, "listen"), prop(driver, "port")], ["forward", "127.0.0.1", "${LOCAL_FORWARD_PORT}"]);
    const rewrite = byAlias(config.pipeline?.filters, "tag_by_service");
    assert.equal(prop(rewrite, "rule"), "$fluentbit_service ^(.+)$ $1 false", "the tag becomes the service");
    const out = byAlias(config.pipeline?.outputs, "ingest");
    assert.equal(prop(out, "name"), "forward");
    assert.equal(prop(out, "match"), "*");
    for (const key of ["tls", "tls.verify", "tls.verify_hostname", "require_ack_response"]) assert.ok(isOn(prop(out, key)), key);
    assert.deepEqual(
      ["host", "port", "tls.ca_file", "shared_key", "username", "password", "retry_limit", "storage.total_limit_size"].map((k) => prop(out, k)),
      ["${FORWARD_HOST}", "${FORWARD_PORT}", "/fluent-bit/etc/ca.crt", "${SHARED_KEY}", "${FORWARD_USERNAME}", "${FORWARD_PASSWORD}", "no_limits", "1G"],
    );
    // Both Lua calls exist in the script the folder carries.
    const lua = fs.readFileSync(path.join(dir, "docker-metadata.lua"), "utf8");
    for (const plugin of [byAlias(config.pipeline?.filters, "container_metadata"), ...((prop(driver, "processors") as { logs: Record<string, unknown>[] }).logs)]) {
      assert.equal(prop(plugin, "script"), "/fluent-bit/etc/docker-metadata.lua");
      assert.match(lua, new RegExp(`^function ${String(prop(plugin, "call"))}\\(tag, timestamp, record\\)$`, "m"));
    }
  });

  it("on the docker target (an endpoint on this machine's loopback) the log driver's port moves off the endpoint's", () => {
    assert.equal(folderEnv(folderOutputs("127.0.0.1", 24224), "team-a").LOCAL_FORWARD_PORT, "24225");
    assert.equal(folderEnv(folderOutputs("127.0.0.1", 14224), "team-a").LOCAL_FORWARD_PORT, "24224");
    assert.equal(folderEnv(folderOutputs("203.0.113.11", 24224), "team-a").LOCAL_FORWARD_PORT, "24224");
  });

  it("refuses a source the stack does not have, a non-empty directory without --force, and outputs without the endpoint's", () => {
    assert.throws(() => folderEnv(folderOutputs(), "team-c"), /the stack has no log source team-c; it has team-a, team-b \(config logSources\)/);
    const dir = path.join(tmp, "busy");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "notes"), "mine");
    assert.throws(() => writeFolder(folderOutputs(), "team-a", dir), /exists and is not empty: name another directory, or add --force/);
    writeFolder(folderOutputs(), "team-a", dir, { force: true });
    assert.equal(fs.readFileSync(path.join(dir, "notes"), "utf8"), "mine");
    assert.equal(mode(path.join(dir, ".env")), 0o600);
    assert.throws(() => parseFolderOutputs({ ingest: { ...folderOutputs().ingest, forwardPort: "x" } }),
      /the stack outputs lack the ingest endpoint's: .*\/ingest\/forwardPort must be integer.*\. Run `pulumi up`/);
  });

  describe("the command", () => {
    const run = async (argv: string[], outputs: unknown = folderOutputs()) => {
      const lines: string[] = [];
      const stacks: (string | undefined)[] = [];
      const code = await main(argv, {
        cwd: tmp,
        print: (line) => lines.push(line),
        outputs: async (stack) => {
          stacks.push(stack);
          if (outputs instanceof Error) throw outputs;
          return outputs;
        },
      });
      return { code, lines, stacks };
    };

    it("writes ./log-forwarder-<source> from where npm was started, or the directory named, of the stack named", async () => {
      const { code, lines, stacks } = await run(["team-a"]);
      assert.equal(code, 0, lines.join("\n"));
      assert.ok(fs.existsSync(path.join(tmp, "log-forwarder-team-a", ".env")));
      assert.match(lines[0], new RegExp(`^Wrote ${path.join(tmp, "log-forwarder-team-a")}: `));
      assert.match(lines.join("\n"), /endpoint 203\.0\.113\.11:24224/);
      assert.deepEqual(stacks, [undefined]);
      const named = await run(["team-b", "hosts/b", "--stack", "prod"]);
      assert.equal(named.code, 0, named.lines.join("\n"));
      assert.ok(fs.existsSync(path.join(tmp, "hosts", "b", "compose.yaml")));
      assert.deepEqual(named.stacks, ["prod"]);
    });

    it("exits 2 with the usage on a wrong command line, 1 when the stack cannot be read", async () => {
      for (const argv of [[], ["a", "b", "c"], ["platform"], ["--bogus", "team-a"], ["team-c"]]) {
        const { code, lines } = await run(argv);
        assert.equal(code, 2, `${argv.join(" ")}: ${lines.join("\n")}`);
        assert.match(lines.at(-1)!, /^usage: npm run forwarder:folder -- <source>/, "the usage ends the output");
      }
      assert.match((await run(["platform"])).lines[0], /platform is the stack's own source/);
      const unreadable = await run(["team-a"], new Error("the Pulumi CLI (pulumi) is not on PATH"));
      assert.equal(unreadable.code, 1);
      assert.equal(unreadable.lines[0], "forwarder:folder: the Pulumi CLI (pulumi) is not on PATH");
      assert.equal((await run(["--help"])).code, 0);
    });
  });
});
