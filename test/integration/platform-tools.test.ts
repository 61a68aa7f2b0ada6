import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROLES } from "../../components/roles";
import { renderUserData } from "../../components/user-data";
import { runTool } from "../helpers/tools";
import { assembleBundle } from "../helpers/assemble-bundle";

describe("platform files checked by real tools", () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), "platform-tools-")); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const role of ROLES) {
    it(`cloud-init accepts the ${role} host's user data`, () => {
      const file = path.join(tmp, `${role}.yaml`);
      fs.writeFileSync(file, renderUserData(role, "/opt/aws-log-platform", "ubuntu"));
      const result = runTool("cloud-init", ["schema", "--config-file", file], "cloud-init");
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /Valid cloud-config/);
    });

    it(`docker-compose accepts the ${role} bundle as laid out on its host`, () => {
      const dir = assembleBundle(role);
      try {
        const result = runTool("docker-compose", ["config", "--quiet"], "docker-compose", { cwd: dir });
        assert.equal(result.status, 0, result.stdout + result.stderr);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("cloud-init rejects a malformed user data (the check can fail)", () => {
    const file = path.join(tmp, "broken.yaml");
    fs.writeFileSync(file, "#cloud-config\npackages: docker.io\n");
    assert.notEqual(runTool("cloud-init", ["schema", "--config-file", file], "cloud-init").status, 0);
  });
});
