import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROLES } from "../../components/platform/roles";
import { renderUserData } from "../../components/targets/aws/user-data";
import { WRITE_FILES_PY } from "../../components/bundles/files";
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

    it(`docker-compose accepts the ${role} bundle as laid out on its host`, async () => {
      const dir = await assembleBundle(role);
      try {
        const result = runTool("docker-compose", ["config", "--quiet"], "docker-compose", { cwd: dir });
        assert.equal(result.status, 0, result.stdout + result.stderr);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  describe("the rendered-files writer, run by the host's python3", () => {
    const write = (cwd: string, files: Record<string, string>) =>
      runTool("python3", ["-c", WRITE_FILES_PY], "python3", { cwd, input: JSON.stringify(files) });

    it("keeps .env and secrets/ private and the other files readable by containers running as other users", () => {
      const dir = fs.mkdtempSync(path.join(tmp, "rendered-"));
      const files = { ".env": "A='1'\n", "secrets/receivers.yml": "password: x\n", "prometheus/targets/node.json": "[]\n" };
      // A rewrite keeps the modes even if someone loosened a file by hand.
      fs.mkdirSync(path.join(dir, "secrets"));
      fs.writeFileSync(path.join(dir, "secrets/receivers.yml"), "", { mode: 0o666 });
      const result = write(dir, files);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(fs.readFileSync(path.join(dir, ".env"), "utf8"), "A='1'\n");
      assert.equal(fs.statSync(path.join(dir, ".env")).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.join(dir, "secrets/receivers.yml")).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.join(dir, "prometheus/targets/node.json")).mode & 0o777, 0o644);
    });

    it("refuses paths that leave the bundle", () => {
      const dir = fs.mkdtempSync(path.join(tmp, "rendered-"));
      for (const name of ["../escape", "/etc/passwd-copy"]) {
        const result = write(dir, { [name]: "x" });
        assert.notEqual(result.status, 0, name);
        assert.match(result.stderr, /refusing to write/);
      }
    });
  });

  it("cloud-init rejects a malformed user data (the check can fail)", () => {
    const file = path.join(tmp, "broken.yaml");
    fs.writeFileSync(file, "#cloud-config\npackages: docker.io\n");
    assert.notEqual(runTool("cloud-init", ["schema", "--config-file", file], "cloud-init").status, 0);
  });
});
