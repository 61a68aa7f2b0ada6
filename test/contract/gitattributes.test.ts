import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { REPO_ROOT } from "../../components/platform/repo";

/** The files the hosts read: every bundle's source folders, and the docker target's host image. */
function filesCopiedToHosts(): string[] {
  const folders = [...new Set([...Object.values(BUNDLE_SOURCES).flat(), "platform-host"])];
  const walk = (dir: string): string[] => fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)]));
  return folders.flatMap(walk);
}

describe(".gitattributes: LF endings for every file copied to a host, whatever the platform of the checkout", () => {
  it("gives every text file of the bundles and the host image eol=lf", () => {
    const files = filesCopiedToHosts();
    assert.ok(files.some((file) => file.endsWith(".sh")) && files.length > 20, `found only ${files.length} files`);
    const result = spawnSync("git", ["check-attr", "text", "eol", "--", ...files], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(result.status, 0, `git check-attr: ${result.stderr || result.error?.message} (git is needed: apt-get install git)`);
    const attributes = new Map<string, Record<string, string>>();
    for (const line of result.stdout.trim().split("\n")) {
      const [file, attribute, value] = line.split(": ");
      attributes.set(file, { ...attributes.get(file), [attribute]: value });
    }
    const notLf = files.filter((file) => attributes.get(file)?.eol !== "lf" && attributes.get(file)?.text !== "unset");
    assert.deepEqual(notLf, []);
  });
});
