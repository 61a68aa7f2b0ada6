import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { PRIVATE_RENDERED_DIR } from "../../components/platform/rendered-paths";
import { ES_ACCOUNTS, ES_PASSWORD_LENGTH, elasticsearchPasswords, passwordVariable } from "../../components/credentials/elasticsearch";
import { certificateAuthority, ES_SERVICE_NAME, nodeCertificate, tlsFiles, tlsPems, TLS_FILES } from "../../components/credentials/tls";
import { memberName } from "../../components/platform/topology";
import { mockPem, registered, settle } from "../setup";

const isSecret = (value: pulumi.Output<unknown>) => (value as unknown as { isSecret: Promise<boolean> }).isSecret;

/** Registers a CA and `count` node certificates under a fresh stack name; returns them and what they registered. */
async function makeCluster(name: string, count: number) {
  const start = registered.length;
  const ca = certificateAuthority(name);
  const nodes = Array.from({ length: count }, (_, i) => ({ member: memberName("logging", i), privateIp: pulumi.output(`10.42.1.${i + 10}`) }));
  const certs = nodes.map((node) => nodeCertificate(name, ca, node));
  const pems = certs.map((cert) => tlsPems(ca, cert));
  await settle(pems);
  await settle(certs.map((c) => c.cert.certPem));
  return { ca, nodes, certs, pems, resources: () => registered.slice(start) };
}

describe("Elasticsearch TLS (components/credentials/tls.ts)", () => {
  it("a CA that is a CA, renewed early, and one certificate request per node naming it by member, IP, service and loopback", async () => {
    const { nodes, resources } = await makeCluster("tls-sans", 3);
    const caCert = resources().find((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert");
    assert.ok(caCert, "no CA certificate registered");
    assert.equal(caCert.inputs.isCaCertificate, true);
    assert.ok((caCert.inputs.earlyRenewalHours as number) > 0 && (caCert.inputs.earlyRenewalHours as number) < (caCert.inputs.validityPeriodHours as number));
    assert.deepEqual(caCert.inputs.allowedUses, ["cert_signing", "crl_signing"]);

    const requests = resources().filter((r) => r.type === "tls:index/certRequest:CertRequest");
    assert.equal(requests.length, nodes.length);
    for (const node of nodes) {
      const request = requests.find((r) => (r.inputs.subject as { commonName: string }).commonName === node.member);
      assert.ok(request, `no certificate request for ${node.member}`);
      assert.deepEqual(request.inputs.dnsNames, [node.member, ES_SERVICE_NAME, "localhost"]);
      assert.deepEqual(request.inputs.ipAddresses, [await settle(node.privateIp), "127.0.0.1"]);
    }
    const signed = resources().filter((r) => r.type === "tls:index/locallySignedCert:LocallySignedCert");
    assert.equal(signed.length, nodes.length);
    for (const cert of signed) {
      assert.deepEqual([...(cert.inputs.allowedUses as string[])].sort(), ["client_auth", "digital_signature", "key_encipherment", "server_auth"]);
      assert.ok((cert.inputs.earlyRenewalHours as number) > 0);
    }
  });

  it("keeps every private key secret: as an input of the resources that take one, and as a rendered file under secrets/", async () => {
    const { pems, resources } = await makeCluster("tls-secrets", 3);
    const keyTakers = resources().filter((r) => ["tls:index/certRequest:CertRequest", "tls:index/selfSignedCert:SelfSignedCert"].includes(r.type));
    for (const r of keyTakers) assert.ok(r.secretInputs.includes("privateKeyPem"), `${r.type} ${r.name}: privateKeyPem is not a secret input`);
    for (const r of resources().filter((x) => x.type === "tls:index/locallySignedCert:LocallySignedCert")) {
      assert.ok(r.secretInputs.includes("caPrivateKeyPem"), `${r.name}: caPrivateKeyPem is not a secret input`);
    }
    // A key's mock body may appear only where the input is a secret.
    const keyBodies = resources().filter((r) => r.type === "tls:index/privateKey:PrivateKey").map((r) => mockPem("RSA PRIVATE KEY", r.name).split("\n")[1]);
    for (const r of resources()) {
      const plain = JSON.stringify(Object.fromEntries(Object.entries(r.inputs).filter(([key]) => !r.secretInputs.includes(key))));
      for (const body of keyBodies) assert.ok(!plain.includes(body), `${r.type} ${r.name} has a private key in a plain input`);
    }

    for (const nodePems of pems) {
      assert.equal(await isSecret(nodePems), true, "a node's PEMs (its key among them) are not a secret");
      const nodeFiles = tlsFiles((await settle(nodePems)) as Parameters<typeof tlsFiles>[0]);
      assert.deepEqual(Object.keys(nodeFiles).sort(), Object.values(TLS_FILES).sort());
      assert.ok(TLS_FILES.nodeKey.startsWith(`${PRIVATE_RENDERED_DIR}/`), "the node key is not rendered under secrets/");
      assert.match(nodeFiles[TLS_FILES.nodeKey], /^-----BEGIN PRIVATE KEY-----\n/);
      // Public: the CA certificate is what every client mounts, outside secrets/.
      assert.ok(!TLS_FILES.caCert.startsWith(`${PRIVATE_RENDERED_DIR}/`));
    }
  });
});

describe("Elasticsearch passwords (components/credentials/elasticsearch.ts)", () => {
  it("one secret random password per account, letters and digits, each with its own .env variable", async () => {
    const start = registered.length;
    const passwords = elasticsearchPasswords("creds");
    const values = (await settle(passwords)) as Record<string, string>;
    assert.deepEqual(Object.keys(values).sort(), Object.keys(ES_ACCOUNTS).sort());
    for (const [account, output] of Object.entries(passwords)) assert.equal(await isSecret(output), true, `${account}: not a secret`);
    const resources = registered.slice(start).filter((r) => r.type === "random:index/randomPassword:RandomPassword");
    assert.equal(resources.length, Object.keys(ES_ACCOUNTS).length);
    for (const r of resources) assert.deepEqual([r.inputs.length, r.inputs.special], [ES_PASSWORD_LENGTH, false], r.name);
    assert.equal(new Set(Object.values(values)).size, Object.keys(ES_ACCOUNTS).length, "two accounts share a password");
    const variables = (Object.keys(ES_ACCOUNTS) as (keyof typeof ES_ACCOUNTS)[]).map(passwordVariable);
    assert.equal(new Set(variables).size, variables.length);
    assert.equal(passwordVariable("fluentBit"), "ES_PASSWORD_FLUENT_BIT");
    assert.equal(passwordVariable("kibanaSystem"), "ES_PASSWORD_KIBANA_SYSTEM");
  });
});
