import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ES_UPSTREAM_CONTAINER_PATH, ES_UPSTREAM_FILE, renderEsUpstream, renderedFiles } from "../../components/bundles/rendered-files";
import { mountedFilesHashes } from "../../components/bundles/files";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { nodeDnsNames, nodeIpAddresses } from "../../components/credentials/tls";
import { PORTS } from "../../components/platform/ports";
import { REPO_ROOT } from "../../components/platform/repo";
import { MemberFacts } from "../../components/platform/topology";
import { assembleBundle } from "../helpers/assemble-bundle";
import { ComposeService, loadCompose, serviceEnvironment } from "../helpers/compose";
import { Plugin, isOn, parseConfig, prop, validateConfig } from "../helpers/fluent-bit";
import { EnvFacts } from "../../components/bundles/env";
import { clusterFacts, sampleEnv } from "../helpers/sample-facts";

const AGGREGATOR = "hosts/logging/fluent-bit/fluent-bit.yaml";
const aggregatorText = () => fs.readFileSync(path.join(REPO_ROOT, AGGREGATOR), "utf8");
const esOutputs = (): Plugin[] => (parseConfig(aggregatorText()).pipeline?.outputs ?? []).filter((o) => String(prop(o, "name")) === "es");
const aggregatorService = (): ComposeService => loadCompose("logging").services["fluent-bit"];

/**
 * The keys Fluent Bit 5.1's upstream file takes for a node (src/flb_upstream_ha.c, create_node known_keys); any
 * other key is a per-node override of the output's properties, which this file does not use.
 */
const NODE_KEYS = ["name", "host", "port", "tls", "tls.vhost", "tls.verify", "tls.debug", "tls.ca_path", "tls.ca_file",
  "tls.crt_file", "tls.key_file", "tls.key_passwd", "tls.verify_hostname"];

/** Fluent Bit's `${VAR}` substitution in a property (src/flb_env.c); an unset variable becomes empty. */
const substitute = (value: unknown, env: Record<string, string>) => String(value ?? "").replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? "");

/** The bundle-relative path a container path of the aggregator comes from, through its bind mounts. */
function bundlePathOf(containerPath: string): string | undefined {
  for (const volume of aggregatorService().volumes ?? []) {
    if (typeof volume !== "string" || !volume.startsWith("./")) continue;
    const [source, target] = volume.split(":");
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return path.posix.normalize(path.posix.join(source, path.posix.relative(target, containerPath)));
    }
  }
  return undefined;
}

interface Target { host: string; port: number; tls: boolean; verify: boolean; verifyHostname: boolean; caFile: string }

/**
 * Where an es output writes, as Fluent Bit 5.1 resolves it (plugins/out_es/es_conf.c, flb_es_conf_create): an empty
 * `upstream` is no property at all (src/flb_output.c, flb_output_set_property), so host and port with the output's
 * tls.*; otherwise every node of the file's upstream, each with its own tls.* only (src/flb_upstream_node.c).
 */
function targets(output: Plugin, env: Record<string, string>, bundleDir: string): Target[] {
  const upstream = substitute(prop(output, "upstream"), env);
  if (upstream === "") {
    return [{
      host: substitute(prop(output, "host"), env), port: Number(substitute(prop(output, "port"), env)),
      tls: isOn(prop(output, "tls")), verify: isOn(prop(output, "tls.verify")),
      verifyHostname: isOn(prop(output, "tls.verify_hostname")), caFile: String(prop(output, "tls.ca_file")),
    }];
  }
  const bundlePath = bundlePathOf(upstream);
  assert.ok(bundlePath, `${upstream} is not in a bind mount of the aggregator`);
  const file = path.join(bundleDir, bundlePath);
  assert.ok(fs.existsSync(file), `${upstream} (${bundlePath}) is not in the bundle`);
  const servers = (parse(fs.readFileSync(file, "utf8")) as { upstream_servers: { name: string; nodes: Record<string, unknown>[] }[] }).upstream_servers;
  // With more than one, flb_upstream_ha_from_file keeps the last and leaks the others.
  assert.equal(servers.length, 1, "one upstream per file");
  return servers[0].nodes.map((node) => {
    const unknown = Object.keys(node).filter((key) => !NODE_KEYS.includes(key.toLowerCase()));
    assert.deepEqual(unknown, [], `node ${String(node.name)}: keys the upstream file does not know`);
    return {
      host: String(node.host), port: Number(node.port), tls: isOn(node.tls),
      // A node verifies its peer unless told not to, but checks the name only when told to (create_node).
      verify: node["tls.verify"] === undefined ? true : isOn(node["tls.verify"]),
      verifyHostname: isOn(node["tls.verify_hostname"]), caFile: String(node["tls.ca_file"]),
    };
  });
}

const bundleDirs: string[] = [];

/** One member's aggregator as deployed: its compose environment, and its bundle with every rendered file. */
async function deployed(facts: EnvFacts, index: number) {
  const dotEnv = sampleEnv("logging", index, facts);
  const env = serviceEnvironment("logging", "fluent-bit", dotEnv);
  const bundleDir = await assembleBundle("logging", { env: dotEnv, members: facts.members });
  bundleDirs.push(bundleDir);
  return { env, bundleDir, dotEnv };
}

describe("the aggregator's Elasticsearch nodes (upstream file)", () => {
  after(() => bundleDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  it("every es output reads the upstream file variable, and keeps host elasticsearch and tls for a single node", () => {
    const outputs = esOutputs();
    assert.ok(outputs.length >= 3, "es outputs");
    for (const output of outputs) {
      const alias = String(prop(output, "alias"));
      assert.equal(prop(output, "upstream"), "${ES_UPSTREAM_FILE}", alias);
      assert.equal(prop(output, "host"), "elasticsearch", alias);
      // The output's tls flag is what flb_output_upstream_set applies to every node's connections.
      assert.ok(isOn(prop(output, "tls")), `${alias}: tls off`);
    }
  });

  for (const nodes of [1, 3]) {
    it(`the config is valid for the 5.1.1 schema with the environment compose gives it, ${nodes} node(s)`, () => {
      const facts = clusterFacts({ logging: nodes });
      for (let index = 0; index < nodes; index++) {
        assert.deepEqual(validateConfig(aggregatorText(), serviceEnvironment("logging", "fluent-bit", sampleEnv("logging", index, facts))), []);
      }
    });
  }

  it("a single node writes to `elasticsearch` only, as before, with no upstream file", async () => {
    const { env, bundleDir, dotEnv } = await deployed(clusterFacts({ logging: 1 }), 0);
    assert.equal(dotEnv.ES_UPSTREAM_FILE, "");
    assert.equal(env.ES_UPSTREAM_FILE, "", "compose passes it empty");
    assert.ok(!fs.existsSync(path.join(bundleDir, ES_UPSTREAM_FILE)), "a single node's bundle has an upstream file");
    for (const output of esOutputs()) {
      assert.deepEqual(targets(output, env, bundleDir), [
        { host: "elasticsearch", port: PORTS.elasticsearch, tls: true, verify: true, verifyHostname: true, caFile: "/tls/ca.crt" },
      ], String(prop(output, "alias")));
    }
    // The node's certificate names `elasticsearch`, so hostname verification holds.
    assert.ok(nodeDnsNames("logging").includes("elasticsearch"));
  });

  it("on a 3-node cluster every member's es outputs write to every node, each verified by the IP its certificate carries", async () => {
    const facts = clusterFacts({ logging: 3 });
    const ips = facts.members.logging.map((m) => m.privateIp);
    for (let index = 0; index < 3; index++) {
      const { env, bundleDir } = await deployed(facts, index);
      assert.equal(env.ES_UPSTREAM_FILE, ES_UPSTREAM_CONTAINER_PATH);
      assert.equal(bundlePathOf(ES_UPSTREAM_CONTAINER_PATH), ES_UPSTREAM_FILE, "the container path and the rendered file agree");
      for (const output of esOutputs()) {
        const alias = `${facts.members.logging[index].name} ${String(prop(output, "alias"))}`;
        const nodes = targets(output, env, bundleDir);
        assert.deepEqual(nodes.map((n) => n.host), ips, alias);
        for (const [i, node] of nodes.entries()) {
          assert.equal(node.port, PORTS.elasticsearch, alias);
          assert.ok(node.tls && node.verify && node.verifyHostname, `${alias}: node ${node.host} is not verified by name`);
          // The same CA file as the output's, mounted into the container.
          assert.equal(node.caFile, String(prop(output, "tls.ca_file")), alias);
          assert.ok((aggregatorService().volumes ?? []).some((v) => typeof v === "string" && v.split(":")[1] === node.caFile), `${alias}: ${node.caFile} not mounted`);
          // An IP host is checked against the certificate's IP addresses (src/tls/openssl.c, setup_hostname_validation).
          assert.ok(nodeIpAddresses(ips[i]).includes(node.host), `${alias}: ${node.host} is not on ${facts.members.logging[i].name}'s certificate`);
        }
      }
    }
  });

  it("renders one node per member and names the upstream for Fluent Bit's YAML loader", () => {
    const nodes: MemberFacts[] = clusterFacts({ logging: 5 }).members.logging;
    const text = renderEsUpstream(nodes);
    assert.match(text, /^# Rendered by the program/);
    const parsed = parse(text) as { upstream_servers: { name: string; nodes: { name: string; host: string }[] }[] };
    assert.deepEqual(Object.keys(parsed), ["upstream_servers"]);
    assert.equal(parsed.upstream_servers[0].name, "elasticsearch");
    assert.deepEqual(parsed.upstream_servers[0].nodes.map((n) => [n.name, n.host]), nodes.map((n) => [n.name, n.privateIp]));
  });

  it("a change of the nodes recreates the aggregator (its mounted-files hash)", async () => {
    const label = async (nodes: number) => {
      const facts = clusterFacts({ logging: nodes });
      const files = renderedFiles("logging", {
        members: facts.members, alerting: { webhook: false, slack: false }, alertSecrets: {},
        monitoringCredentials: {} as never, tls: { caCert: "ca", node: { cert: "c", key: "k" } },
      });
      return (await mountedFilesHashes(BUNDLE_SOURCES.logging, files))["fluent-bit"];
    };
    const [three, four, one] = [await label(3), await label(4), await label(1)];
    assert.notEqual(three, four);
    assert.notEqual(one, three);
  });
});
