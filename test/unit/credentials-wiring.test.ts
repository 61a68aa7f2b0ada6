// The whole program on the Pulumi mocks with 3 Elasticsearch nodes: where the Elasticsearch passwords, the CA and the
// node keys go. Secrets only as secrets, never in a plain output or user data; each client configured with its own
// user; each node's key rendered under secrets/ (0600, components/bundles/bundle.ts) of its own host only.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { parse as parseDotEnv } from "dotenv";
import { PROJECT, Registered, STACK, TEST_CONFIG, mockPem, runProgram, settle } from "../setup";
import { PRIVATE_RENDERED_DIR } from "../../components/platform/rendered-paths";
import { ES_ACCOUNTS, EsAccount, passwordVariable } from "../../components/credentials/elasticsearch";
import { TLS_FILES } from "../../components/credentials/tls";
import { REPO_ROOT } from "../../components/platform/repo";
import { loadCompose } from "../helpers/compose";
import { lookups } from "../helpers/registered";

const NAME = `${PROJECT}-${STACK}`;
const ACCOUNTS = Object.keys(ES_ACCOUNTS) as EsAccount[];
/** The mocks' RandomPassword value for an account (test/setup.ts). */
const mockedPassword = (account: EsAccount) => `Mocked${`${NAME}-es-${ES_ACCOUNTS[account]}`.replace(/[^A-Za-z0-9]/g, "")}`;
const nodeKey = (member: string) => mockPem("PRIVATE KEY", `${NAME}-es-${member}`);
const MEMBERS = ["logging", "logging-2", "logging-3"];

describe("Elasticsearch security wiring (Pulumi mocks, 3 nodes)", function () {
  this.timeout(120_000);
  let resources: Registered[];
  let outputs: Record<string, unknown>;
  let resolved: Record<string, unknown>;
  const { byName } = lookups(() => resources);
  const filesOf = (member: string) => JSON.parse(byName(`${NAME}-${member}-bundle-rendered`).inputs.stdin as string) as Record<string, string>;
  const envOf = (member: string) => parseDotEnv(filesOf(member)[".env"]);
  const secrets = () => [...ACCOUNTS.map(mockedPassword), ...MEMBERS.map(nodeKey), mockPem("RSA PRIVATE KEY", `${NAME}-es-ca`)];

  before(async () => {
    // Two zones of the mocks offer TEST_CONFIG's types: a cluster there needs allowTwoZones.
    ({ outputs, resources } = await runProgram({ ...TEST_CONFIG, [`${PROJECT}:elasticsearchNodes`]: "3", [`${PROJECT}:allowTwoZones`]: "true" }));
    resolved = (await settle(outputs)) as Record<string, unknown>;
  });

  it("exports the CA in plain, Kibana's operator login and platform-check's password as secrets, and no other secret", async () => {
    assert.equal(resolved.elasticsearchCaCertificate, mockPem("CERTIFICATE", `${NAME}-es-ca`));
    assert.equal(await pulumi.isSecret(outputs.elasticsearchCaCertificate as pulumi.Output<string>), false);
    assert.equal(resolved.kibanaUser, "operator");
    assert.equal(resolved.kibanaPassword, mockedPassword("operator"));
    assert.equal(resolved.elasticsearchCheckPassword, mockedPassword("check"));
    for (const key of ["kibanaPassword", "elasticsearchCheckPassword"]) assert.equal(await pulumi.isSecret(outputs[key] as pulumi.Output<string>), true, key);
    assert.match(String(resolved.elasticsearchUrl), /^https:\/\//);
    for (const [key, value] of Object.entries(resolved)) {
      const allowed = key === "kibanaPassword" ? mockedPassword("operator") : key === "elasticsearchCheckPassword" ? mockedPassword("check") : undefined;
      for (const secret of secrets().filter((s) => s !== allowed)) assert.ok(!JSON.stringify(value).includes(secret), `output ${key} leaks ${secret.slice(0, 40)}`);
    }
  });

  it("keeps every password and key out of user data, and in no resource's plain inputs", () => {
    for (const resource of resources) {
      const text = JSON.stringify(resource.inputs);
      for (const secret of secrets()) {
        if (!text.includes(secret)) continue;
        assert.ok(resource.type.startsWith("aws:ec2/instance") === false, `${resource.name}: user data carries a secret`);
        assert.ok(resource.secretInputs.length > 0, `${resource.name} has ${secret.slice(0, 40)} in plain inputs`);
      }
    }
    const holders = resources.filter((r) => JSON.stringify(r.inputs).includes(mockedPassword("fluentBit"))).map((r) => r.name);
    assert.deepEqual(holders.sort(), MEMBERS.map((m) => `${NAME}-${m}-bundle-rendered`).sort(), "only the logging bundles' rendered files carry a client's password");
  });

  it("renders each node's own certificate and key, the key under secrets/, and only the CA on the monitoring host", () => {
    for (const member of MEMBERS) {
      const files = filesOf(member);
      assert.ok(TLS_FILES.nodeKey.startsWith(`${PRIVATE_RENDERED_DIR}/`) && TLS_FILES.nodeCert.startsWith(`${PRIVATE_RENDERED_DIR}/`));
      assert.equal(files[TLS_FILES.nodeKey], nodeKey(member), member);
      assert.equal(files[TLS_FILES.nodeCert], mockPem("CERTIFICATE", `${NAME}-es-${member}`), member);
      assert.equal(files[TLS_FILES.caCert], mockPem("CERTIFICATE", `${NAME}-es-ca`), member);
      assert.ok(byName(`${NAME}-${member}-bundle-rendered`).secretInputs.includes("stdin"), `${member}: rendered files are not secret`);
      for (const other of MEMBERS.filter((m) => m !== member)) assert.ok(!JSON.stringify(files).includes(nodeKey(other)), `${member} carries ${other}'s key`);
      // The certificate names the member's own host by its private IP.
      const request = resources.find((r) => r.type === "tls:index/certRequest:CertRequest" && r.name === `${NAME}-es-${member}`);
      const host = (resolved.hosts as Record<string, { privateIp: string }>)[member];
      assert.deepEqual(request?.inputs.ipAddresses, [host.privateIp, "127.0.0.1"], member);
    }
    const monitoring = filesOf("monitoring");
    assert.equal(monitoring[TLS_FILES.caCert], mockPem("CERTIFICATE", `${NAME}-es-ca`));
    for (const secret of secrets().filter((s) => s !== mockedPassword("grafana"))) assert.ok(!JSON.stringify(monitoring).includes(secret), `monitoring carries ${secret.slice(0, 40)}`);
  });

  it("gives each logging member every account's password, and the monitoring host Grafana's alone", () => {
    for (const member of MEMBERS) {
      const env = envOf(member);
      for (const account of ACCOUNTS) assert.equal(env[passwordVariable(account)], mockedPassword(account), `${member}: ${passwordVariable(account)}`);
    }
    const monitoring = envOf("monitoring");
    assert.equal(monitoring[passwordVariable("grafana")], mockedPassword("grafana"));
    assert.deepEqual(Object.keys(monitoring).filter((k) => k.startsWith("ES_PASSWORD_")), [passwordVariable("grafana")]);
    for (const role of ["web", "kafka"]) assert.ok(!Object.keys(envOf(role)).some((k) => k.startsWith("ES_PASSWORD_")), role);
  });

  it("configures each client with its own user and only its own password", () => {
    const services = loadCompose("logging").services as Record<string, { environment?: Record<string, string>; command?: string[] }>;
    const passwordsIn = (service: string) => Object.entries(services[service].environment ?? {}).filter(([, v]) => /ES_PASSWORD_/.test(String(v))).map(([k, v]) => `${k}=${v}`);
    const ref = (account: EsAccount) => `\${${passwordVariable(account)}}`;

    const fluentBit = parse(fs.readFileSync(path.join(REPO_ROOT, "hosts/logging/fluent-bit/fluent-bit.yaml"), "utf8")) as { pipeline: { outputs: Record<string, unknown>[] } };
    const esOutputs = fluentBit.pipeline.outputs.filter((o) => o.name === "es");
    assert.ok(esOutputs.length > 0);
    for (const o of esOutputs) assert.deepEqual([o.http_user, o.http_passwd], [ES_ACCOUNTS.fluentBit, ref("fluentBit")], String(o.alias));
    assert.deepEqual(passwordsIn("fluent-bit"), [`${passwordVariable("fluentBit")}=${ref("fluentBit")}`]);

    const exporter = services["elasticsearch-exporter"].environment ?? {};
    assert.deepEqual([exporter.ES_USERNAME, exporter.ES_PASSWORD], [ES_ACCOUNTS.exporter, ref("exporter")]);
    assert.deepEqual(passwordsIn("elasticsearch-exporter"), [`ES_PASSWORD=${ref("exporter")}`]);

    const kibana = services.kibana.environment ?? {};
    assert.deepEqual([kibana.ELASTICSEARCH_USERNAME, kibana.ELASTICSEARCH_PASSWORD], [ES_ACCOUNTS.kibanaSystem, ref("kibanaSystem")]);
    assert.deepEqual(passwordsIn("kibana-import"), [`${passwordVariable("kibanaImport")}=${ref("kibanaImport")}`]);

    const datasources = parse(fs.readFileSync(path.join(REPO_ROOT, "provisioning/grafana/datasources/datasources.yaml"), "utf8")) as { datasources: { type: string; basicAuthUser?: string; secureJsonData?: Record<string, string> }[] };
    const es = datasources.datasources.filter((d) => d.type === "elasticsearch");
    assert.ok(es.length > 0);
    for (const d of es) assert.deepEqual([d.basicAuthUser, d.secureJsonData?.basicAuthPassword], [ES_ACCOUNTS.grafana, `$${passwordVariable("grafana")}`]);
  });
});
