import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";

const SKIPPED_DIRS = new Set(["node_modules", ".git", ".pulumi"]);

/** Shell scripts without the `.sh` ending. */
const EXTENSIONLESS_SCRIPTS = [".ci/run"];

/** Every `*.sh` of the repository, so scripts added by anyone are checked without a list to maintain. */
function shellScripts(dir = REPO_ROOT): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : shellScripts(full);
    return entry.isFile() && entry.name.endsWith(".sh") ? [full] : [];
  });
}

describe("shellcheck: every shell script in the repository", function () {
  const scripts = [...shellScripts(), ...EXTENSIONLESS_SCRIPTS.map((script) => path.join(REPO_ROOT, script))];

  before(function () {
    if (spawnSync("shellcheck", ["--version"]).error) {
      assert.fail("shellcheck is not installed: apt-get install shellcheck (listed in .ci/apt-packages.txt)");
    }
  });

  it("finds the scripts (the load generator at least)", function () {
    assert.ok(scripts.includes(path.join(REPO_ROOT, "loadgen", "loadgen.sh")), `found: ${scripts.join(", ")}`);
  });

  for (const script of scripts) {
    const name = path.relative(REPO_ROOT, script);
    it(`${name} is shellcheck-clean`, function () {
      // -x follows `source`d files; SCRIPTDIR resolves their paths relative to the script, not the test's cwd.
      const result = spawnSync("shellcheck", ["-x", "--source-path=SCRIPTDIR", name], { cwd: REPO_ROOT, encoding: "utf8" });
      assert.equal(result.status, 0, `shellcheck ${name}:\n${result.stdout}${result.stderr}`);
    });
  }
});
