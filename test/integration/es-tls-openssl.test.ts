import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as tlsSocket from "tls";
import { CA_USES, KEY_ALGORITHM, NODE_USES, nodeDnsNames, RSA_BITS } from "../../components/credentials/tls";
import { runTool } from "../helpers/tools";

// The @pulumi/tls provider cannot run here (no plugin), so openssl makes certificates of the same shape from the same
// constants: key algorithm and size, CA and node key usages, and the SANs of nodeDnsNames / nodeIpAddresses.

/** @pulumi/tls allowed_uses -> openssl extension values (keyUsage or extendedKeyUsage). */
const KEY_USAGE: Record<string, string> = { cert_signing: "keyCertSign", crl_signing: "cRLSign", digital_signature: "digitalSignature", key_encipherment: "keyEncipherment" };
const EXTENDED_KEY_USAGE: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };

function extensions(uses: string[], extra: string[]): string {
  const unknown = uses.filter((u) => !KEY_USAGE[u] && !EXTENDED_KEY_USAGE[u]);
  assert.deepEqual(unknown, [], "a use with no openssl counterpart in this test");
  const keyUsage = uses.filter((u) => KEY_USAGE[u]).map((u) => KEY_USAGE[u]);
  const extended = uses.filter((u) => EXTENDED_KEY_USAGE[u]).map((u) => EXTENDED_KEY_USAGE[u]);
  return [`keyUsage=critical,${keyUsage.join(",")}`, ...(extended.length ? [`extendedKeyUsage=${extended.join(",")}`] : []), ...extra].join("\n");
}

describe("Elasticsearch TLS with real openssl: a CA and a node certificate of components/credentials/tls.ts's shape", function () {
  this.timeout(60_000);
  const member = "logging-2";
  const privateIp = "10.42.1.12";
  let dir: string;

  const openssl = (...args: string[]) => {
    const result = runTool("openssl", args, "openssl", { cwd: dir });
    assert.equal(result.status, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "es-tls-"));
    assert.equal(KEY_ALGORITHM, "RSA");
    fs.writeFileSync(path.join(dir, "ca.ext"), extensions(CA_USES, ["basicConstraints=critical,CA:TRUE", "subjectKeyIdentifier=hash"]));
    const sans = [...nodeDnsNames(member).map((d) => `DNS:${d}`), `IP:${privateIp}`, "IP:127.0.0.1"].join(",");
    fs.writeFileSync(path.join(dir, "node.ext"), extensions(NODE_USES, ["basicConstraints=CA:FALSE", `subjectAltName=${sans}`, "authorityKeyIdentifier=keyid"]));
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${RSA_BITS}`, "-out", "ca.key");
    openssl("req", "-new", "-key", "ca.key", "-subj", "/O=test/CN=test Elasticsearch CA", "-out", "ca.csr");
    openssl("x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-days", "3650", "-extfile", "ca.ext", "-out", "ca.crt");
    // PKCS#8 (BEGIN PRIVATE KEY), the format tlsPems renders.
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${RSA_BITS}`, "-out", "node.key");
    openssl("req", "-new", "-key", "node.key", "-subj", `/O=test/CN=${member}`, "-out", "node.csr");
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "730", "-extfile", "node.ext", "-out", "node.crt");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the node certificate verifies against the CA, for TLS server and client use", () => {
    assert.match(openssl("verify", "-CAfile", "ca.crt", "-purpose", "sslserver", "node.crt"), /node\.crt: OK/);
    assert.match(openssl("verify", "-CAfile", "ca.crt", "-purpose", "sslclient", "node.crt"), /node\.crt: OK/);
    assert.match(fs.readFileSync(path.join(dir, "node.key"), "utf8"), /^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("names the node by member, service name, loopback and private IP", () => {
    const text = openssl("x509", "-in", "node.crt", "-noout", "-ext", "subjectAltName");
    for (const name of nodeDnsNames(member)) assert.match(text, new RegExp(`DNS:${name}(,|\\s|$)`));
    assert.match(text, new RegExp(`IP Address:${privateIp.replace(/\./g, "\\.")}`));
    assert.match(text, /IP Address:127\.0\.0\.1/);
  });

  it("a client that trusts only the CA accepts the node under each of its names, and rejects any other", async () => {
    const server = tlsSocket.createServer({ key: fs.readFileSync(path.join(dir, "node.key")), cert: fs.readFileSync(path.join(dir, "node.crt")) }, (s) => s.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const ca = fs.readFileSync(path.join(dir, "ca.crt"));
    const connect = (servername: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsSocket.connect({ host: "127.0.0.1", port, ca, servername: net.isIP(servername) ? undefined : servername, checkServerIdentity: (_h, cert) => tlsSocket.checkServerIdentity(servername, cert) }, () => {
          socket.on("data", (d) => resolve(String(d)));
        });
        socket.on("error", reject);
      });
    try {
      for (const name of [...nodeDnsNames(member), privateIp, "127.0.0.1"]) assert.equal(await connect(name), "ok", name);
      await assert.rejects(connect("logging-3"), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
    } finally {
      server.close();
    }
  });
});
