import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";
import { IMAGE_VERSIONS } from "../../components/platform/versions";

/**
 * The real Elasticsearch node of the integration tests (test/elasticsearch) runs the release the images pin, up to
 * the patch: Maven Central's newest transport-netty4 of that minor may be older than the image's patch.
 */
describe("the Elasticsearch test node", () => {
  const pom = fs.readFileSync(path.join(REPO_ROOT, "test", "elasticsearch", "pom.xml"), "utf8");
  const testVersion = /<elasticsearch\.version>([^<]+)<\/elasticsearch\.version>/.exec(pom)?.[1];

  it("is the minor release of ELASTIC_VERSION, at a patch no newer than the image's", () => {
    assert.ok(testVersion, "test/elasticsearch/pom.xml sets elasticsearch.version");
    const [major, minor, patch] = testVersion.split(".").map(Number);
    const [imageMajor, imageMinor, imagePatch] = IMAGE_VERSIONS.ELASTIC_VERSION.split(".").map(Number);
    assert.deepEqual([major, minor], [imageMajor, imageMinor], `test node ${testVersion}, images ${IMAGE_VERSIONS.ELASTIC_VERSION}`);
    assert.ok(patch <= imagePatch, `test node ${testVersion} is newer than the images' ${IMAGE_VERSIONS.ELASTIC_VERSION}`);
  });

  it("names every plugin that is not Elasticsearch's own a stand-in", () => {
    const launcher = fs.readFileSync(path.join(REPO_ROOT, "test", "elasticsearch", "src", "main", "java", "org", "elasticsearch", "node", "StartLoopbackNode.java"), "utf8");
    const plugins = [...launcher.matchAll(/^\s+(\w+)\.class,?$/gm)].map((m) => m[1]);
    const own = ["Netty4Plugin", "XPackPlugin", "SecurityWithoutSaml"];
    assert.deepEqual(plugins.filter((p) => !own.includes(p) && !p.endsWith("StandIn")), []);
    assert.ok(plugins.length > own.length);
  });
});
