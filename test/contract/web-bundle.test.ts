import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PORTS } from "../../components/platform/ports";
import { sampleEnv } from "../helpers/sample-facts";
import { ComposeService, dependsOn, interpolate, loadCompose, mountedFrom } from "../helpers/compose";
import { GATEWAY_CONFIG_DIR } from "../helpers/gateway-log";

const asList = (command: ComposeService["command"]): string[] => (Array.isArray(command) ? command : []);

describe("web bundle wiring (hosts/web/compose.yaml with gateway/ and loadgen/)", () => {
  const services = loadCompose("web").services;
  const env = sampleEnv("web");

  it("the gateway listens on PORTS.gateway in nginx and publishes it unchanged", () => {
    const listens = [...fs.readFileSync(path.join(GATEWAY_CONFIG_DIR, "nginx.conf"), "utf8").matchAll(/listen\s+(\d+)\s+default_server;/g)];
    assert.deepEqual(listens.map((m) => Number(m[1])), [PORTS.gateway]);
    assert.deepEqual(services.gateway.ports, [`${PORTS.gateway}:${PORTS.gateway}`]);
  });

  it("the gateway runs the bundle's nginx.conf, mounted read-only", () => {
    const command = asList(services.gateway.command);
    const config = command[command.indexOf("-c") + 1];
    assert.equal(mountedFrom("web", services.gateway, config), path.join(GATEWAY_CONFIG_DIR, "nginx.conf"));
    assert.ok(services.gateway.volumes?.some((v) => typeof v === "string" && v.endsWith(":ro") && v.startsWith("./gateway:")));
  });

  it("the load generator runs the bundle's script against the gateway service once it is healthy", () => {
    const loadgen = services.loadgen;
    const script = asList(loadgen.command).at(-1) ?? "";
    const file = mountedFrom("web", loadgen, script);
    assert.ok(file && fs.existsSync(file), `${script} is not a file of the bundle (mounted from ${file})`);
    const environment = loadgen.environment as Record<string, string>;
    assert.equal(new URL(environment.LOADGEN_TARGET_URL).hostname, "gateway");
    assert.equal(dependsOn(loadgen).gateway, "service_healthy");
    assert.equal(interpolate(environment.LOADGEN_REQUESTS_PER_SECOND, env), env.LOADGEN_REQUESTS_PER_SECOND);
  });
});
