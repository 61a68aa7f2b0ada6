import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PORTS } from "../../components/ports";
import { BUNDLE_SOURCES } from "../../components/bundle-env";
import { REPO_ROOT } from "../../components/repo";
import { sampleEnv } from "../helpers/sample-facts";
import { ComposeService, dependsOn, interpolate, loadCompose } from "../helpers/compose";
import { GATEWAY_CONFIG_DIR } from "../helpers/gateway-log";

/** The bundle folder on the host: hosts/web at its root, the other sources at their own relative path. */
function bundleFile(relative: string): string {
  const [root, ...extras] = BUNDLE_SOURCES.web;
  const extra = extras.find((source) => relative === source || relative.startsWith(`${source}/`));
  return path.join(REPO_ROOT, extra ? relative : path.join(root, relative));
}

/** The bundle file a container path comes from, through the service's `./x:/y` bind mounts. */
function mountedFrom(service: ComposeService, containerPath: string): string | undefined {
  for (const volume of service.volumes ?? []) {
    if (typeof volume !== "string" || !volume.startsWith("./")) continue;
    const [source, target] = volume.split(":");
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return bundleFile(path.posix.join(source, path.posix.relative(target, containerPath)));
    }
  }
  return undefined;
}

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
    assert.equal(mountedFrom(services.gateway, config), path.join(GATEWAY_CONFIG_DIR, "nginx.conf"));
    assert.ok(services.gateway.volumes?.some((v) => typeof v === "string" && v.endsWith(":ro") && v.startsWith("./gateway:")));
  });

  it("the load generator runs the bundle's script against the gateway service once it is healthy", () => {
    const loadgen = services.loadgen;
    const script = asList(loadgen.command).at(-1) ?? "";
    const file = mountedFrom(loadgen, script);
    assert.ok(file && fs.existsSync(file), `${script} is not a file of the bundle (mounted from ${file})`);
    const environment = loadgen.environment as Record<string, string>;
    assert.equal(new URL(environment.LOADGEN_TARGET_URL).hostname, "gateway");
    assert.equal(dependsOn(loadgen).gateway, "service_healthy");
    assert.equal(interpolate(environment.LOADGEN_REQUESTS_PER_SECOND, env), env.LOADGEN_REQUESTS_PER_SECOND);
  });
});
