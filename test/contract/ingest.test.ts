import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";
import { PORTS } from "../../components/platform/ports";
import { INGEST_FILES } from "../../components/credentials/ingest";
import { FORWARD_INPUT_TEMPLATE, renderForwardInput } from "../../components/bundles/rendered-files";
import { loadCompose, mountedFrom, publishedPorts, serviceEnvironment } from "../helpers/compose";
import { Plugin, byAlias, isOn, parseConfig, prop, propList, validateConfig } from "../helpers/fluent-bit";

const INGEST = "hosts/web/ingest/fluent-bit.yaml";
const SAMPLE_USERS = { platform: "PlatformPassword1", payments: "PaymentsPassword2" };

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
const compose = () => loadCompose("web").services.ingest;
const rendered = () => parseConfig(renderForwardInput({ sharedKey: "SharedKey123", users: SAMPLE_USERS }));

/** The bundle file (bundle-relative) a path inside the ingest container comes from, a rendered one included. */
function bundleFileOf(containerPath: string): string {
  const file = mountedFrom("web", compose(), containerPath);
  assert.ok(file, `${containerPath} is in none of the ingest service's bind mounts`);
  return path.relative(path.join(REPO_ROOT, "hosts/web"), file);
}

describe("ingest endpoint (hosts/web/ingest)", () => {
  const config = parseConfig(read(INGEST));
  const forward = () => byAlias(rendered().pipeline?.inputs, "forward_in");
  const otlp = () => byAlias(config.pipeline?.inputs, "otlp_in");

  it("includes the forward input the program renders into the bundle's secrets, where compose mounts it", () => {
    assert.deepEqual((config as { includes?: string[] }).includes?.map(bundleFileOf), [INGEST_FILES.forwardInput]);
  });

  it("renders the forward input from its template with the shared key and one `user password` per source, valid for 5.1.1", () => {
    const text = renderForwardInput({ sharedKey: "SharedKey123", users: SAMPLE_USERS });
    assert.deepEqual(validateConfig(text, serviceEnvironment("web", "ingest")), []);
    assert.equal(prop(forward(), "shared_key"), "SharedKey123");
    assert.deepEqual(propList(forward(), "security.users"), ["platform PlatformPassword1", "payments PaymentsPassword2"]);
    assert.ok(!read(FORWARD_INPUT_TEMPLATE).includes("shared_key:"), "the repository's template holds no key");
  });

  it("authenticates both inputs over TLS with the files the program renders: a client certificate for OTLP", () => {
    for (const input of [forward(), otlp()]) {
      assert.ok(isOn(prop(input, "tls")), `${input.alias}: tls`);
      assert.equal(bundleFileOf(String(prop(input, "tls.crt_file"))), INGEST_FILES.serverCert);
      assert.equal(bundleFileOf(String(prop(input, "tls.key_file"))), INGEST_FILES.serverKey);
    }
    assert.ok(isOn(prop(otlp(), "tls.verify")) && isOn(prop(otlp(), "tls.verify_client_cert")), "OTLP clients must present a certificate");
    assert.equal(bundleFileOf(String(prop(otlp(), "tls.ca_file"))), INGEST_FILES.clientCaCert, "checked against the ingest client CA alone");
  });

  it("listens on the ports of PORTS, which compose publishes, with its metrics on ingestMetrics", () => {
    assert.equal(Number(prop(forward(), "port")), PORTS.ingestForward);
    assert.equal(Number(prop(otlp(), "port")), PORTS.ingestOtlp);
    assert.equal(Number(prop(config.service ?? {}, "http_port")), PORTS.ingestMetrics);
    assert.deepEqual(publishedPorts(compose()).sort(), [PORTS.ingestForward, PORTS.ingestOtlp, PORTS.ingestMetrics].sort());
  });

  it("is bounded: request size, idle connections, disk-buffered inputs, the output's disk share, the container's memory", () => {
    for (const input of [forward(), otlp()]) {
      assert.equal(prop(input, "buffer_max_size"), "8M", `${input.alias}: the largest message or request`);
      assert.equal(prop(input, "net.io_timeout"), "120s", `${input.alias}: a silent client's connection closes`);
      assert.equal(prop(input, "storage.type"), "filesystem", `${input.alias}: what waits for Kafka waits on disk`);
    }
    assert.equal(Number(prop(config.service ?? {}, "storage.max_chunks_up")), 32);
    const output = byAlias(config.pipeline?.outputs, "kafka_apps");
    assert.equal(prop(output, "storage.total_limit_size"), "4G");
    assert.equal(prop(output, "retry_limit"), "no_limits");
    const service = compose() as Record<string, unknown>;
    assert.deepEqual([service.mem_limit, service.cpus, service.pids_limit], ["384m", 1, 256]);
  });

  it("shapes every record of both inputs with records.lua, which compose mounts", () => {
    const filters = (config.pipeline?.filters ?? []) as Plugin[];
    const lua = filters.filter((f) => f.name === "lua");
    assert.deepEqual(lua.map((f) => `${String(f.match)} ${String(f.call)}`), ["otlp lift_otlp", "forward.* finish_forward", "otlp finish_otlp"]);
    for (const filter of lua) assert.ok(fs.existsSync(mountedFrom("web", compose(), String(filter.script)) ?? ""), `${String(filter.script)} is mounted from the repository`);
    // The OTLP group (its resource) is read before any other filter rewrites the records, which drops groups.
    assert.equal(filters[0].alias, "lift_otlp");
    assert.equal(prop(forward(), "tag_prefix"), "forward.");
    assert.equal(prop(otlp(), "tag"), "otlp");
    assert.equal(mountedFrom("web", compose(), "/fluent-bit/etc/fluent-bit.yaml"), path.join(REPO_ROOT, INGEST));
  });
});
