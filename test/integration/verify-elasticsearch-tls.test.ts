import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import { clusterHealth, elasticsearchClient } from "../../verify/elasticsearch";
import { basicUser, httpsServer, makeTestPki, TestPki } from "../helpers/es-tls";
import { sendJson, testOutputs } from "../helpers/verify-stand-ins";

// verify's Elasticsearch client against an HTTPS stand-in whose certificate a test CA (real openssl) signed: it
// trusts the stack's CA output alone, logs in as platform-check, and says so when the certificate is not the CA's.
describe("verify: Elasticsearch over HTTPS, trusting only the stack's CA", function () {
  this.timeout(60_000);
  let pki: TestPki;
  let server: https.Server;
  let url: string;
  const users: string[] = [];

  before(async () => {
    pki = makeTestPki();
    ({ server, url } = await httpsServer(pki, (req, res) => {
      users.push(basicUser(req.headers) ?? "");
      // The client refuses a 2xx answer without Elasticsearch's product header.
      res.setHeader("x-elastic-product", "Elasticsearch");
      sendJson(res, 200, { status: "green", number_of_nodes: 1, active_shards: 3, unassigned_shards: 0 });
    }));
  });
  after(() => {
    server.close();
    pki.cleanup();
  });

  const health = async (caFile: string) => {
    const outputs = testOutputs({ elasticsearchUrl: url }, { elasticsearchCaCertificate: fs.readFileSync(caFile, "utf8"), elasticsearchCheckPassword: "check-pw" });
    const es = elasticsearchClient(outputs, 5000);
    try {
      return await clusterHealth({ es, outputs, timeoutMs: 5000 });
    } finally {
      await es.close();
    }
  };

  it("passes with the CA that signed the node's certificate, as platform-check", async () => {
    users.length = 0;
    assert.match(String(await health(pki.caFile)), /^green, 1 of 1 node\(s\)/);
    assert.deepEqual(users, ["platform-check:check-pw"]);
  });

  it("fails saying the certificate is not the stack CA's when another CA signed it", async () => {
    users.length = 0;
    await assert.rejects(health(pki.otherCaFile), /^Error: Elasticsearch \(https:\/\/127\.0\.0\.1:\d+\) presented a certificate the stack's CA did not sign/);
    assert.deepEqual(users, [], "no request got through");
  });
});
