import { strict as assert } from "assert";
import * as fs from "fs";
import * as https from "https";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { nodeDnsNames, nodeIpAddresses } from "../../components/credentials/tls";
import { runTool } from "./tools";

/**
 * A CA and one node certificate made by real openssl, named like a node of components/credentials/tls.ts (nodeDnsNames) plus the
 * loopback addresses stand-in nodes listen on: for HTTPS stand-ins of Elasticsearch that curl checks with --cacert.
 */
export interface TestPki {
  dir: string;
  caFile: string;
  key: Buffer;
  cert: Buffer;
  /** A CA that did not sign the node certificate: what an untrusted server looks like to a client. */
  otherCaFile: string;
  cleanup(): void;
}

export const LOOPBACK_NODES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

export function makeTestPki(member = "logging"): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "es-pki-"));
  const openssl = (...args: string[]) => {
    const result = runTool("openssl", args, "openssl", { cwd: dir });
    assert.equal(result.status, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
  };
  const sans = [...nodeDnsNames(member).map((d) => `DNS:${d}`), ...LOOPBACK_NODES.map((ip) => `IP:${ip}`)].join(",");
  fs.writeFileSync(path.join(dir, "node.ext"), `basicConstraints=CA:FALSE\nsubjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  for (const ca of ["ca", "other-ca"]) {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-subj", `/CN=test ${ca}`, "-days", "2", "-out", `${ca}.crt`);
  }
  openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-subj", `/CN=${member}`, "-out", "node.csr");
  openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "node.ext", "-out", "node.crt");
  return {
    dir,
    caFile: path.join(dir, "ca.crt"),
    otherCaFile: path.join(dir, "other-ca.crt"),
    key: fs.readFileSync(path.join(dir, "node.key")),
    cert: fs.readFileSync(path.join(dir, "node.crt")),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The user:password of a request's Basic authorization, or undefined without one. */
export function basicUser(headers: http.IncomingHttpHeaders): string | undefined {
  const match = /^Basic (.+)$/.exec(headers.authorization ?? "");
  return match ? Buffer.from(match[1], "base64").toString("utf8") : undefined;
}

/** An HTTPS server with the test node certificate on host:port (0: any free port); resolves to it and its URL. */
export async function httpsServer(pki: TestPki, handler: http.RequestListener, host = "127.0.0.1", port = 0): Promise<{ server: https.Server; url: string }> {
  const server = https.createServer({ key: pki.key, cert: pki.cert }, handler);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, url: `https://${host}:${(server.address() as AddressInfo).port}` };
}

/**
 * A node certificate for one member, signed by the test CA, with the names the program's components/credentials/tls.ts
 * gives a node (nodeDnsNames, nodeIpAddresses): RSA 2048 and a PKCS#8 key, as the program hands them to the node.
 * Written as node.key and node.crt into `dir`, beside a copy of the CA as ca.crt: the layout of the es-certs volume.
 */
export function issueNodeCertificate(pki: TestPki, member: string, privateIp: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]) => {
    const result = runTool("openssl", args, "openssl", { cwd: dir });
    assert.equal(result.status, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
  };
  const sans = [...nodeDnsNames(member).map((d) => `DNS:${d}`), ...nodeIpAddresses(privateIp).map((ip) => `IP:${ip}`)].join(",");
  fs.writeFileSync(path.join(dir, "node.ext"), `basicConstraints=CA:FALSE\nsubjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-subj", `/CN=${member}`, "-out", "node.csr");
  openssl("x509", "-req", "-in", "node.csr", "-CA", pki.caFile, "-CAkey", path.join(pki.dir, "ca.key"), "-CAcreateserial", "-days", "2",
    "-extfile", "node.ext", "-out", "node.crt");
  fs.copyFileSync(pki.caFile, path.join(dir, "ca.crt"));
}
