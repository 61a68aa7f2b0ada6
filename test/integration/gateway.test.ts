import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";
import { GATEWAY_CONFIG_DIR, gatewayLogFieldKinds, gatewayLogFields } from "../helpers/gateway-log";
import { MappedField, gatewayTemplateFields } from "../helpers/index-template";

const LOADGEN = path.join(REPO_ROOT, "loadgen", "loadgen.sh");
/** The shell of the curl image (busybox ash), and the POSIX baseline of this machine. */
const IMAGE_SHELL = ["busybox", "sh"];
const SHELLS = [IMAGE_SHELL, ["sh"]];
/** Enough requests that each status class of the mocks' draw shows up (the rarest, 5xx, is 5% of calls). */
const LOADGEN_REQUESTS = 300;
const LOADGEN_RATE = 100;
const CLIENT_IPS = ["198.51.100.7", "203.0.113.250", "2001:db8::42"];
/** Fields nginx may legitimately leave without a value (nothing was proxied); every other number is always set. */
const NULLABLE = new Set(["upstream_status", "latencies.proxy"]);

type Json = Record<string, unknown>;

function requireTool(cmd: string, pkg: string): void {
  if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) {
    assert.fail(`${cmd} is not installed: apt-get install ${pkg} (listed in .ci/apt-packages.txt)`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Replaces `from` (which must occur) in a file of the temp copy. */
function rewrite(file: string, from: RegExp, to: (match: string) => string): void {
  const text = fs.readFileSync(file, "utf8");
  assert.match(text, from, `${path.basename(file)} no longer contains ${from}: update the test's rewrite`);
  fs.writeFileSync(file, text.replace(from, to));
}

interface GatewayCopy {
  dir: string;
  conf: string;
  port: number;
  /** `nginx` arguments for this copy; the pid file must stay out of /run. */
  args: (extra: string) => string[];
}

/**
 * A temp copy of the gateway config with only what must differ on this machine: the listen ports (80 and the mock
 * upstreams' loopback ports become free loopback ports) and the temp paths (nginx would otherwise create and chown
 * the system's /var/lib/nginx/*); nothing else is touched.
 */
async function gatewayCopy(): Promise<GatewayCopy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-"));
  fs.cpSync(GATEWAY_CONFIG_DIR, path.join(dir, "conf"), { recursive: true });
  const conf = path.join(dir, "conf", "nginx.conf");
  const port = await freePort();
  rewrite(conf, /listen 80 default_server;/, () => `listen 127.0.0.1:${port} default_server;`);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `    ${name}_temp_path ${path.join(dir, `${name}_temp`)};`)
    .join("\n");
  rewrite(conf, /^http \{$/m, (m) => `${m}\n${temp}`);
  const upstreams = path.join(dir, "conf", "upstreams.conf");
  const mockPorts = [...new Set([...fs.readFileSync(upstreams, "utf8").matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[1]))];
  assert.ok(mockPorts.length > 0, "no loopback upstream ports in upstreams.conf");
  for (const mock of mockPorts) {
    const free = await freePort();
    rewrite(upstreams, new RegExp(`127\\.0\\.0\\.1:${mock}\\b`, "g"), () => `127.0.0.1:${free}`);
  }
  const pid = path.join(dir, "nginx.pid");
  return { dir, conf, port, args: (extra) => ["-c", conf, "-g", `pid ${pid};${extra}`] };
}

function exited(child: ChildProcess, boundMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} still running after ${boundMs} ms`)), boundMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** The user agent of the readiness probes, whose lines are left out of the assertions. */
const PROBE_AGENT = "gateway-test readiness probe";

function get(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: urlPath, headers: { "User-Agent": PROBE_AGENT } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

async function waitUntilServing(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await get(port, "/health").catch(() => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`nginx did not answer /health on 127.0.0.1:${port}`);
}

/** Sends raw bytes (requests curl would refuse to make) and reads the answer until the server closes. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("raw request timed out")));
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    // No half-close: nginx would take the EOF for a client that gave up (499) on a proxied request.
    socket.write(request);
  });
}

function at(doc: Json, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((v, key) => (v as Json | undefined)?.[key], doc);
}

function leafPaths(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value as Json).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** The mapping of a field: its own, or that of a `flattened` ancestor holding it as a key. */
function mappingOf(fields: Map<string, MappedField>, field: string): MappedField | undefined {
  const parts = field.split(".");
  for (let i = parts.length; i > 0; i--) {
    const mapped = fields.get(parts.slice(0, i).join("."));
    if (mapped && (i === parts.length || mapped.type === "flattened")) return mapped;
  }
  return undefined;
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  byte: [-128, 127],
  short: [-32768, 32767],
  integer: [-(2 ** 31), 2 ** 31 - 1],
  long: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  unsigned_long: [0, Number.MAX_SAFE_INTEGER],
};

/** Why `value` would not index cleanly under `mapping`, or undefined when it fits. */
function misfit(mapping: MappedField, value: unknown): string | undefined {
  if (value === null) return undefined; // Elasticsearch indexes null as a missing value, for every type
  const { type } = mapping;
  if (["keyword", "text", "match_only_text", "wildcard", "flattened"].includes(type)) {
    return typeof value === "string" ? undefined : "not a string";
  }
  if (type === "ip") return typeof value === "string" && net.isIP(value) ? undefined : "not an IP address";
  if (type in INTEGER_RANGES) {
    const [min, max] = INTEGER_RANGES[type];
    return Number.isInteger(value) && (value as number) >= min && (value as number) <= max
      ? undefined
      : `not an integer in ${type} range`;
  }
  if (["float", "double", "half_float", "scaled_float"].includes(type)) {
    return typeof value === "number" && Number.isFinite(value) ? undefined : "not a number";
  }
  if (type === "date") {
    const formats = mapping.format ?? "strict_date_optional_time||epoch_millis";
    if (typeof value === "number") return /epoch_millis/.test(formats) ? undefined : `a number for format ${formats}`;
    return typeof value === "string" && !Number.isNaN(Date.parse(value)) ? undefined : "not a date";
  }
  return `mapping type ${type} is unknown to this test: teach misfit() about it`;
}

describe("gateway (real nginx): configuration", function () {
  let copy: GatewayCopy;

  before(async function () {
    requireTool("nginx", "nginx");
    copy = await gatewayCopy();
  });
  after(() => copy && fs.rmSync(copy.dir, { recursive: true, force: true }));

  it("passes nginx -t", function () {
    // stdout is a file, as in the container (nginx opens /dev/stdout, which fails on node's socket pairs).
    const stdout = fs.openSync(path.join(copy.dir, "stdout"), "a");
    try {
      const result = spawnSync("nginx", ["-t", ...copy.args("")], { encoding: "utf8", stdio: ["ignore", stdout, "pipe"] });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stderr, /test is successful/);
    } finally {
      fs.closeSync(stdout);
    }
  });
});

describe("gateway (real nginx): access log under the load generator and bad requests", function () {
  let copy: GatewayCopy;
  let nginx: ChildProcess | undefined;
  let docs: Json[] = [];
  let lines: string[] = [];
  const quoted = { uri: '/api/users?q="quoted"\\back', agent: 'gateway-test "quoted" \\ agent\tv1', ip: "192.0.2.200" };
  const badRoute = { uri: "/no/such/route?probe=1", agent: "gateway-test bad-route", ip: "198.51.100.99" };
  const hugeHeaderUri = "/api/users?case=huge-header";
  /** The invalid method is logged without a URI; loadgen never sends these. */
  const handMadeUris = ["", hugeHeaderUri, badRoute.uri, quoted.uri];

  before(async function () {
    requireTool("nginx", "nginx");
    requireTool("curl", "curl");
    requireTool(IMAGE_SHELL[0], "busybox");
    copy = await gatewayCopy();
    // Files, not node's socket pairs: nginx opens /dev/stdout itself, as in the container.
    const accessLog = path.join(copy.dir, "stdout");
    const errorLog = path.join(copy.dir, "stderr");
    const fds = [fs.openSync(accessLog, "a"), fs.openSync(errorLog, "a")];
    nginx = spawn("nginx", copy.args(" daemon off;"), { stdio: ["ignore", ...fds] });
    fds.forEach((fd) => fs.closeSync(fd));
    await waitUntilServing(copy.port);

    const loadgen = spawn(IMAGE_SHELL[0], [...IMAGE_SHELL.slice(1), LOADGEN], {
      env: {
        ...process.env,
        LOADGEN_TARGET_URL: `http://127.0.0.1:${copy.port}`,
        LOADGEN_REQUESTS_PER_SECOND: String(LOADGEN_RATE),
        LOADGEN_MAX_REQUESTS: String(LOADGEN_REQUESTS),
        LOADGEN_CLIENT_IPS: CLIENT_IPS.join(" "),
        LOADGEN_HEARTBEAT_FILE: path.join(copy.dir, "heartbeat"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let loadgenOutput = "";
    loadgen.stdout?.on("data", (c: Buffer) => (loadgenOutput += c.toString()));
    loadgen.stderr?.on("data", (c: Buffer) => (loadgenOutput += c.toString()));
    assert.equal(await exited(loadgen, 60_000), 0, loadgenOutput);
    assert.match(loadgenOutput, new RegExp(`done after ${LOADGEN_REQUESTS} requests`), loadgenOutput);

    const crlf = (...headerLines: string[]) => headerLines.join("\r\n") + "\r\n\r\n";
    const answers = [
      await rawRequest(copy.port, crlf("G@T /api/users HTTP/1.1", "Host: gateway", "Connection: close")),
      await rawRequest(
        copy.port,
        crlf(`GET ${hugeHeaderUri} HTTP/1.1`, "Host: gateway", `X-Padding: ${"a".repeat(64 * 1024)}`,
          "Connection: close"),
      ),
      await rawRequest(
        copy.port,
        crlf(`GET ${badRoute.uri} HTTP/1.1`, "Host: gateway", `User-Agent: ${badRoute.agent}`,
          `X-Forwarded-For: ${badRoute.ip}`, "Connection: close"),
      ),
      await rawRequest(
        copy.port,
        crlf(`GET ${quoted.uri} HTTP/1.1`, "Host: gateway", `User-Agent: ${quoted.agent}`,
          `X-Forwarded-For: ${quoted.ip}`, "Connection: close"),
      ),
    ];
    // The last one is proxied, so its status is the mock's draw.
    assert.deepEqual(answers.slice(0, 3).map((a) => a.split(" ")[1]), ["400", "400", "404"]);
    assert.match(answers[3], /^HTTP\/1\.1 \d{3} /);

    // Graceful stop: every line is written before the master exits.
    nginx.kill("SIGQUIT");
    await exited(nginx, 15_000);
    nginx = undefined;
    const errors = fs.readFileSync(errorLog, "utf8");
    assert.equal(errors.match(/\[(emerg|alert|crit)\]/), null, errors);
    // nginx writes a line after its response, so a probe's line may come late: they are told apart by agent.
    lines = fs
      .readFileSync(accessLog, "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.includes(`"user-agent":"${PROBE_AGENT}"`));
    docs = lines.map((l) => {
      try {
        return JSON.parse(l) as Json;
      } catch {
        return {};
      }
    });
  });

  after(async () => {
    // Only when before() failed half-way: SIGTERM lets the master stop its workers; SIGKILL would orphan them.
    if (nginx?.pid) {
      nginx.kill("SIGTERM");
      await exited(nginx, 5_000).catch(() => nginx?.kill("SIGKILL"));
    }
    if (copy) fs.rmSync(copy.dir, { recursive: true, force: true });
  });

  it("logs one line per request, each a JSON object", function () {
    assert.equal(lines.length, LOADGEN_REQUESTS + handMadeUris.length, lines.slice(0, 5).join("\n"));
    lines.forEach((line, i) => assert.doesNotThrow(() => JSON.parse(line), `line ${i} is not JSON: ${line}`));
  });

  it("every line has exactly the fields of the log_format (gatewayLogFields)", function () {
    const expected = [...gatewayLogFields()].sort();
    docs.forEach((doc, i) => assert.deepEqual(leafPaths(doc).sort(), expected, `line ${i}: ${lines[i]}`));
  });

  it("numbers are JSON numbers, strings are strings; only upstream fields may be null", function () {
    const kinds = gatewayLogFieldKinds();
    docs.forEach((doc, i) => {
      for (const [field, kind] of kinds) {
        const value = at(doc, field);
        const ok =
          kind === "string"
            ? typeof value === "string"
            : (typeof value === "number" && Number.isFinite(value)) || (value === null && NULLABLE.has(field));
        assert.ok(ok, `line ${i}: ${field} should be a ${kind}, got ${JSON.stringify(value)}: ${lines[i]}`);
      }
      // Proxied means both the status and the time of the upstream are known, or neither.
      assert.equal(doc.upstream_status === null, at(doc, "latencies.proxy") === null, lines[i]);
    });
  });

  it("client_ip is a valid IP, the X-Forwarded-For the client sent", function () {
    docs.forEach((doc, i) => assert.ok(net.isIP(String(doc.client_ip)), `line ${i}: ${lines[i]}`));
    const byLoadgen = docs.filter((d) => !handMadeUris.includes(String(at(d, "request.uri"))));
    assert.equal(byLoadgen.length, LOADGEN_REQUESTS);
    for (const doc of byLoadgen) assert.ok(CLIENT_IPS.includes(String(doc.client_ip)), JSON.stringify(doc));
    assert.deepEqual([...new Set(byLoadgen.map((d) => d.client_ip))].sort(), [...CLIENT_IPS].sort());
    for (const sent of [quoted, badRoute]) {
      const doc = docs.find((d) => at(d, "request.headers.user-agent") === sent.agent);
      assert.equal(doc?.client_ip, sent.ip, `no line for ${sent.uri} with client_ip ${sent.ip}`);
    }
  });

  it("the status mix covers 2xx, 3xx, 4xx and 5xx, and upstream latencies vary", function () {
    const classes = new Set(docs.map((d) => `${String(at(d, "response.status"))[0]}xx`));
    for (const expected of ["2xx", "3xx", "4xx", "5xx"]) assert.ok(classes.has(expected), `no ${expected} in ${[...classes]}`);
    const proxied = docs.map((d) => at(d, "latencies.proxy")).filter((v): v is number => typeof v === "number");
    // A lower bound, not a race: limit_rate cannot deliver a throttled mock response faster than its rate.
    assert.ok(Math.max(...proxied) >= 100, `no throttled upstream response among ${proxied.length}`);
    assert.ok(new Set(proxied).size >= 5, `latencies.proxy hardly varies: ${[...new Set(proxied)]}`);
  });

  it("bad requests are logged as valid lines: invalid method, huge header, unknown route, quotes and backslashes", function () {
    const invalid = docs.find((d) => at(d, "request.method") === "" && at(d, "response.status") === 400);
    assert.ok(invalid, "no line for the invalid method");
    const huge = docs.find((d) => at(d, "request.uri") === hugeHeaderUri);
    assert.equal(huge && at(huge, "response.status"), 400);
    const unknown = docs.find((d) => at(d, "request.uri") === badRoute.uri);
    assert.ok(unknown, "no line for the unknown route");
    assert.deepEqual(
      [at(unknown, "response.status"), unknown.upstream_status, at(unknown, "service.name"), at(unknown, "request.querystring")],
      [404, null, "", "probe=1"],
    );
    const escaped = docs.find((d) => at(d, "request.uri") === quoted.uri);
    assert.ok(escaped, `no line whose request.uri is ${quoted.uri}`);
    assert.equal(at(escaped, "request.headers.user-agent"), quoted.agent);
  });

  it("every value fits its type in the gateway index template (hosts/logging/setup)", function () {
    const fields = gatewayTemplateFields();
    const problems = new Set<string>();
    for (const field of gatewayLogFields()) {
      const mapping = mappingOf(fields, field);
      if (!mapping) {
        problems.add(`${field}: not mapped`);
        continue;
      }
      for (const doc of docs) {
        const why = misfit(mapping, at(doc, field));
        if (why) problems.add(`${field} (${mapping.type}): ${JSON.stringify(at(doc, field))} is ${why}`);
      }
    }
    assert.deepEqual([...problems], []);
  });
});

describe("loadgen: stops on SIGTERM", function () {
  for (const shell of SHELLS) {
    it(`exits 0 within 5 s of SIGTERM under ${shell.join(" ")}`, async function () {
      requireTool(shell[0], shell[0] === "busybox" ? "busybox" : "dash");
      requireTool("curl", "curl");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loadgen-"));
      const heartbeat = path.join(dir, "heartbeat");
      // Nothing listens on the target: curl fails fast, the loop keeps going, no traffic leaves loopback.
      const child = spawn(shell[0], [...shell.slice(1), LOADGEN], {
        env: {
          ...process.env,
          LOADGEN_TARGET_URL: `http://127.0.0.1:${await freePort()}`,
          LOADGEN_REQUESTS_PER_SECOND: "5",
          LOADGEN_HEARTBEAT_FILE: heartbeat,
        },
        stdio: ["ignore", "pipe", "ignore"],
      });
      let output = "";
      child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
      try {
        for (let attempt = 0; attempt < 100 && !fs.existsSync(heartbeat); attempt++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(fs.existsSync(heartbeat), `loadgen never touched its heartbeat: ${output}`);
        child.kill("SIGTERM");
        assert.equal(await exited(child, 5_000), 0, output);
        assert.match(output, /stopped after \d+ requests/);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
