// The docker target's check of the machine `pulumi up` runs on, before anything is created
// (components/targets/docker/preflight.ts and endpoint.ts): real files (a temporary DOCKER_CONFIG), real sockets and
// real ports on 127.0.0.1; no Docker engine runs here, so an engine is stood in where a test's name says so, by an
// HTTP server on a unix socket or by a stand-in function.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { PROJECT, STACK, STAND_IN_MACHINE } from "../setup";
import { freePort } from "../helpers/local-servers";
import { DEFAULT_LOCAL_PORTS } from "../../components/platform/loopback-ports";
import { ONE_OF_EACH } from "../../components/platform/topology";
import { DEFAULT_DOCKER_HOST, DockerEndpoint, isLocalEngine, pingEngine, publishedPorts, resolveDockerEndpoint } from "../../components/targets/docker/endpoint";
import { LocalMachine, LocalMachineConfig, WINDOWS_REFUSAL, checkLocalMachine, isLoopbackPortFree, thisMachine } from "../../components/targets/docker/preflight";

const NAME = `${PROJECT}-${STACK}`;
const DEFAULTS: LocalMachineConfig = { localGatewayPort: 8080, localIngestForwardPort: 24224, localIngestOtlpPort: 4318, localSshBasePort: 2201, localPorts: DEFAULT_LOCAL_PORTS, memberCounts: ONE_OF_EACH };

/** A context as `docker context create` writes it: contexts/meta/<sha256 hex of the name>/meta.json. */
function writeContext(configDir: string, name: string, host: string): string {
  const dir = path.join(configDir, "contexts", "meta", crypto.createHash("sha256").update(name).digest("hex"));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "meta.json");
  fs.writeFileSync(file, JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
  return file;
}

/** `docker context use`: the current context in config.json. */
const useContext = (configDir: string, name: string) =>
  fs.writeFileSync(path.join(configDir, "config.json"), JSON.stringify({ auths: {}, currentContext: name }, null, "\t"));

/** Loopback ports for the whole platform, every one free on this machine now (SSH: four in a row). */
async function freeLocalPorts(): Promise<LocalMachineConfig> {
  let base = 0;
  for (let attempt = 0; attempt < 50 && !base; attempt++) {
    const candidate = 20_000 + crypto.randomInt(40_000);
    const frees = await Promise.all([0, 1, 2, 3].map((i) => isLoopbackPortFree(candidate + i)));
    if (frees.every(Boolean)) base = candidate;
  }
  assert.ok(base, "no four free ports in a row");
  const taken = new Set([base, base + 1, base + 2, base + 3]);
  const next = async () => {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    return port;
  };
  const localPorts = { ...DEFAULT_LOCAL_PORTS };
  for (const ui of Object.keys(localPorts) as (keyof typeof localPorts)[]) localPorts[ui] = await next();
  return { localGatewayPort: await next(), localIngestForwardPort: await next(), localIngestOtlpPort: await next(), localSshBasePort: base, localPorts, memberCounts: ONE_OF_EACH };
}

/** An engine stand-in: an HTTP server on a unix socket answering /_ping and /containers/json as the engine does. */
async function engineStandIn(socket: string, containers: { name: string; publicPorts: number[] }[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === "/_ping") return void res.end("OK");
    if (req.url === "/containers/json") {
      res.setHeader("content-type", "application/json");
      return void res.end(JSON.stringify(containers.map((c) => ({
        Names: [`/${c.name}`],
        Ports: [{ PrivatePort: 8081, Type: "tcp" }, ...c.publicPorts.map((port) => ({ IP: "127.0.0.1", PrivatePort: 22, PublicPort: port, Type: "tcp" }))],
      }))));
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return server;
}

describe("docker target: the machine, checked before anything is created (real files, sockets and ports)", function () {
  this.timeout(30_000);
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docker-machine-"))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe("the engine the docker CLI uses", () => {
    it("is DOCKER_HOST when it is set, whatever the contexts say", () => {
      writeContext(tmp, "colima", "unix:///tmp/colima.sock");
      useContext(tmp, "colima");
      const endpoint = resolveDockerEndpoint({ DOCKER_HOST: "unix:///run/user/1000/docker.sock", DOCKER_CONTEXT: "colima", DOCKER_CONFIG: tmp }, tmp);
      assert.deepEqual(endpoint, { host: "unix:///run/user/1000/docker.sock", from: "DOCKER_HOST" });
    });

    it("is the endpoint of the context DOCKER_CONTEXT names, from $DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json", () => {
      writeContext(tmp, "rancher-desktop", "unix:///home/me/.rd/docker.sock");
      writeContext(tmp, "colima", "unix:///tmp/colima.sock");
      useContext(tmp, "colima");
      const endpoint = resolveDockerEndpoint({ DOCKER_CONTEXT: "rancher-desktop", DOCKER_CONFIG: tmp }, "/nonexistent-home");
      assert.equal(endpoint.host, "unix:///home/me/.rd/docker.sock");
      assert.match(endpoint.from, /docker context "rancher-desktop" \(DOCKER_CONTEXT\)/);
    });

    it("is the endpoint of the current context in $DOCKER_CONFIG/config.json, as `docker context use` sets it", () => {
      writeContext(tmp, "desktop-linux", "unix:///home/me/.docker/desktop/docker.sock");
      useContext(tmp, "desktop-linux");
      const endpoint = resolveDockerEndpoint({ DOCKER_CONFIG: tmp }, "/nonexistent-home");
      assert.equal(endpoint.host, "unix:///home/me/.docker/desktop/docker.sock");
      assert.match(endpoint.from, new RegExp(`currentContext in ${path.join(tmp, "config.json").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    });

    it("reads ~/.docker when DOCKER_CONFIG is not set", () => {
      const configDir = path.join(tmp, ".docker");
      writeContext(configDir, "colima", "unix:///Users/me/.colima/default/docker.sock");
      useContext(configDir, "colima");
      assert.equal(resolveDockerEndpoint({}, tmp).host, "unix:///Users/me/.colima/default/docker.sock");
    });

    it("is the default socket with no setting at all, and for the context named default", () => {
      assert.deepEqual(resolveDockerEndpoint({}, tmp).host, DEFAULT_DOCKER_HOST);
      assert.equal(DEFAULT_DOCKER_HOST, "unix:///var/run/docker.sock");
      useContext(tmp, "default");
      assert.equal(resolveDockerEndpoint({ DOCKER_CONFIG: tmp }, tmp).host, DEFAULT_DOCKER_HOST);
      assert.equal(resolveDockerEndpoint({ DOCKER_CONTEXT: "default", DOCKER_CONFIG: tmp }, tmp).host, DEFAULT_DOCKER_HOST);
    });

    it("names the context and the file it looked for when the context does not exist", () => {
      useContext(tmp, "gone");
      assert.throws(() => resolveDockerEndpoint({ DOCKER_CONFIG: tmp }, tmp),
        /The docker context "gone" \(currentContext in .*config\.json\) does not exist: no .*contexts\/meta\/[0-9a-f]{64}\/meta\.json/);
    });

  });

  describe("the engine answering", () => {
    it("pings an engine stand-in on a real unix socket and reads the ports its containers publish", async () => {
      const socket = path.join(tmp, "docker.sock");
      const server = await engineStandIn(socket, [{ name: "grafana-dev", publicPorts: [3000] }]);
      try {
        const endpoint: DockerEndpoint = { host: `unix://${socket}`, from: "DOCKER_HOST" };
        await pingEngine(endpoint);
        assert.deepEqual(await publishedPorts(endpoint), [{ container: "grafana-dev", hostPort: 3000 }]);
      } finally {
        server.close();
      }
    });

    it("fails the ping when nothing listens at the socket (a real path, no engine)", async () => {
      await assert.rejects(pingEngine({ host: `unix://${path.join(tmp, "docker.sock")}`, from: "DOCKER_HOST" }), /ENOENT/);
    });

    it("stops the deploy with the engine it tried and what to do when no engine answers (a stand-in ping that fails)", async () => {
      const machine: LocalMachine = { ...STAND_IN_MACHINE, ping: async () => { throw Object.assign(new Error("connect ECONNREFUSED /var/run/docker.sock"), { code: "ECONNREFUSED" }); } };
      await assert.rejects(checkLocalMachine(NAME, DEFAULTS, machine), (error: Error) => {
        assert.match(error.message, /^No Docker engine answers at unix:\/\/\/var\/run\/docker\.sock \(the default context: no DOCKER_HOST, DOCKER_CONTEXT or current context\): connect ECONNREFUSED/);
        assert.match(error.message, /Start your engine .*`docker context use <name>`, or DOCKER_HOST/);
        return true;
      });
      const denied: LocalMachine = { ...STAND_IN_MACHINE, ping: async () => { throw Object.assign(new Error("connect EACCES /var/run/docker.sock"), { code: "EACCES" }); } };
      await assert.rejects(checkLocalMachine(NAME, DEFAULTS, denied), /permission denied: add your user to the docker group/);
    });

    it("refuses an engine on another machine, whose ports would be published there, not here (stand-in engine)", async () => {
      for (const host of ["ssh://me@build-box", "tcp://192.0.2.10:2375"]) {
        await assert.rejects(checkLocalMachine(NAME, DEFAULTS, { ...STAND_IN_MACHINE, env: { DOCKER_HOST: host } }), new RegExp(`engine at ${host.replace(/[.]/g, "\\.")} \\(DOCKER_HOST\\), which is not on this machine`));
      }
      for (const host of ["tcp://127.0.0.1:2375", "tcp://localhost:2375", "tcp://[::1]:2375", "unix:///run/user/1000/docker.sock"]) assert.ok(isLocalEngine(host), host);
      assert.equal((await checkLocalMachine(NAME, DEFAULTS, { ...STAND_IN_MACHINE, env: { DOCKER_HOST: "tcp://127.0.0.1:2375" } })).host, "tcp://127.0.0.1:2375");
    });

    it("refuses a DOCKER_CONTEXT that the Docker provider, which reads it from ~/.docker itself, would resolve otherwise (stand-in engine)", async () => {
      const home = path.join(tmp, "home");
      const elsewhere = path.join(tmp, "elsewhere");
      writeContext(elsewhere, "colima", "unix:///tmp/colima.sock");
      const machine = (env: NodeJS.ProcessEnv): LocalMachine => ({ ...STAND_IN_MACHINE, env, home });
      await assert.rejects(checkLocalMachine(NAME, DEFAULTS, machine({ DOCKER_CONTEXT: "colima", DOCKER_CONFIG: elsewhere })),
        /DOCKER_CONTEXT=colima is set: the Docker provider .* would not find that context, while the docker CLI uses unix:\/\/\/tmp\/colima\.sock .*Unset DOCKER_CONTEXT/);
      await assert.rejects(checkLocalMachine(NAME, DEFAULTS, machine({ DOCKER_CONTEXT: "default" })), /DOCKER_CONTEXT=default is set/);
      writeContext(path.join(home, ".docker"), "colima", "unix:///tmp/colima.sock");
      await assert.rejects(checkLocalMachine(NAME, DEFAULTS, machine({ DOCKER_CONTEXT: "colima", DOCKER_HOST: "unix:///tmp/other.sock" })),
        /would use unix:\/\/\/tmp\/colima\.sock, while the docker CLI uses unix:\/\/\/tmp\/other\.sock \(DOCKER_HOST\)/);
      assert.equal((await checkLocalMachine(NAME, DEFAULTS, machine({ DOCKER_CONTEXT: "colima" }))).host, "unix:///tmp/colima.sock");
    });
  });

  it("refuses native Windows, saying to run from WSL2 and why, before it looks for an engine (a stand-in platform)", async () => {
    const machine: LocalMachine = { ...STAND_IN_MACHINE, platform: "win32", ping: async () => assert.fail("no engine is asked on Windows") };
    await assert.rejects(checkLocalMachine(NAME, DEFAULTS, machine), (error: Error) => {
      assert.equal(error.message, WINDOWS_REFUSAL);
      assert.match(error.message, /^The docker target does not run on native Windows: run `pulumi up` from WSL2/);
      assert.match(error.message, /backslashes/);
      assert.match(error.message, /CRLF/);
      return true;
    });
  });

  describe("the loopback ports", () => {
    it("fails on a port something here holds open, naming the port, what wants it and the key (real port, stand-in engine)", async () => {
      const config = await freeLocalPorts();
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(config.localPorts.grafana, "127.0.0.1", resolve));
      try {
        await assert.rejects(checkLocalMachine(NAME, config, { ...thisMachine(), env: {}, home: tmp, ping: async () => undefined, publishedPorts: async () => [] }), (error: Error) => {
          assert.match(error.message, /^The docker target publishes its hosts' ports on 127\.0\.0\.1, and some are taken; nothing was created:\n/);
          assert.ok(error.message.includes(`127.0.0.1:${config.localPorts.grafana} is taken by another program on this machine; Grafana (monitoring host) wants it (localPorts.grafana): ` +
            "free it, or `pulumi config set --path localPorts.grafana <port>`"), error.message);
          assert.equal(error.message.split("\n  - ").length, 2, "the one port held, no other");
          return true;
        });
      } finally {
        holder.close();
      }
    });

    it("names SSH and gateway ports by their keys too (stand-in ports and engine)", async () => {
      const busy = new Set([2203, 8080]);
      const machine: LocalMachine = { ...STAND_IN_MACHINE, isPortFree: async (port) => !busy.has(port) };
      await assert.rejects(checkLocalMachine(NAME, DEFAULTS, machine), (error: Error) => {
        assert.ok(error.message.includes("127.0.0.1:2203 is taken by another program on this machine; SSH of the kafka host wants it (localSshBasePort): free it, or `pulumi config set localSshBasePort <port>`"), error.message);
        assert.ok(error.message.includes("127.0.0.1:8080 is taken by another program on this machine; the API gateway (web host) wants it (localGatewayPort)"), error.message);
        return true;
      });
    });

    it("accepts the ports this stack's own host containers publish already, a second `pulumi up`, and names another's container (real ports, engine stand-in on a unix socket)", async () => {
      const config = await freeLocalPorts();
      const held = [config.localPorts.grafana, config.localSshBasePort + 3];
      const holders = held.map((port) => net.createServer().listen(port, "127.0.0.1"));
      await Promise.all(holders.map((server) => new Promise((resolve) => server.once("listening", resolve))));
      const socket = path.join(tmp, "docker.sock");
      const machine: LocalMachine = { ...thisMachine(), env: { DOCKER_HOST: `unix://${socket}` }, home: tmp };
      try {
        // Ours: the monitoring host container publishes Grafana and its SSH, as after a first `pulumi up`.
        let engine = await engineStandIn(socket, [{ name: `${NAME}-monitoring`, publicPorts: held }, { name: `${NAME}-logging`, publicPorts: [config.localPorts.kibana] }]);
        assert.deepEqual(await checkLocalMachine(NAME, config, machine), { host: `unix://${socket}`, from: "DOCKER_HOST" });
        await new Promise((resolve) => engine.close(resolve));
        // Another stack's container of the same project ("dev-2") is not this stack's.
        engine = await engineStandIn(socket, [{ name: `${NAME}-2-monitoring`, publicPorts: held }]);
        await assert.rejects(checkLocalMachine(NAME, config, machine), (error: Error) => {
          assert.ok(error.message.includes(`127.0.0.1:${held[0]} is taken by the container "${NAME}-2-monitoring" on your Docker engine; Grafana (monitoring host) wants it (localPorts.grafana)`), error.message);
          assert.ok(error.message.includes(`127.0.0.1:${held[1]} is taken by the container "${NAME}-2-monitoring" on your Docker engine; SSH of the monitoring host wants it (localSshBasePort)`), error.message);
          return true;
        });
        await new Promise((resolve) => engine.close(resolve));
      } finally {
        holders.forEach((server) => server.close());
      }
    });
  });
});
