import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../../components/platform/repo";

/**
 * components/targets/docker/load-images.sh (real sh) with a stand-in `docker` CLI on PATH that keeps a host's inner
 * engine as a list of image names: what it asks the inner engine, and what goes through `docker save | docker load`.
 */

const SCRIPT = path.join(REPO_ROOT, "components", "targets", "docker", "load-images.sh");

const STAND_IN_DOCKER = `#!/bin/sh
# exec <container> docker image inspect --format ... <image>: present when listed in $INNER_IMAGES_FILE.
# save <images...>: a stand-in archive naming them.  exec -i <container> docker load: records that archive.
echo "$*" >> "$CALLS_FILE"
case "$1" in
  save) shift; echo "archive of $*" ;;
  exec)
    if [ "$2" = "-i" ]; then
      archive=$(cat); echo "loaded into $3: $archive" >> "$LOADS_FILE"
      # Only what the archive really holds lands in the inner engine ($UNSAVABLE: the user's engine lacks it).
      for image in \${archive#archive of }; do [ "$image" = "\${UNSAVABLE:-}" ] || echo "$image" >> "$INNER_IMAGES_FILE"; done
      exit 0
    fi
    for last; do :; done
    grep -qxF "$last" "$INNER_IMAGES_FILE" ;;
  *) exit 2 ;;
esac
`;

function run(inner: string[], images: string[], unsavable = ""): { status: number | null; stdout: string; stderr: string; calls: string[]; loads: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "load-images-"));
  try {
    fs.writeFileSync(path.join(dir, "docker"), STAND_IN_DOCKER, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "inner"), inner.map((image) => `${image}\n`).join(""));
    const env = {
      PATH: `${dir}:${process.env.PATH}`,
      CALLS_FILE: path.join(dir, "calls"), LOADS_FILE: path.join(dir, "loads"), INNER_IMAGES_FILE: path.join(dir, "inner"),
      HOST_CONTAINER: "platform-dev-web", IMAGES: images.join(" "), UNSAVABLE: unsavable,
    };
    const result = spawnSync("sh", [SCRIPT], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const lines = (file: string) => (fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), "utf8").trim().split("\n") : []);
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: lines("calls"), loads: lines("loads") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("load-images.sh: a local host's bundle images from the user's engine into the host's own (stand-in docker CLI)", () => {
  const images = ["curlimages/curl:8.15.0", "fluent/fluent-bit:5.1.3", "nginx:1.28.0-alpine"];

  it("saves only the images the host's engine lacks, in one pipe into its docker load", () => {
    const result = run(["fluent/fluent-bit:5.1.3"], images);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.calls.filter((call) => call.startsWith("save")), ["save curlimages/curl:8.15.0 nginx:1.28.0-alpine"]);
    assert.deepEqual(result.loads, ["loaded into platform-dev-web: archive of curlimages/curl:8.15.0 nginx:1.28.0-alpine"]);
    assert.match(result.stdout, /loading curlimages\/curl:8\.15\.0 nginx:1\.28\.0-alpine into platform-dev-web/);
  });

  it("loads nothing when the host's engine has every image (a host kept across updates)", () => {
    const result = run(images, images);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.calls.filter((call) => !call.startsWith("exec platform-dev-web docker image inspect")), []);
    assert.deepEqual(result.loads, []);
  });

  it("fails, naming the image, when one is still missing from the host's engine after the load", () => {
    const result = run([], images, "nginx:1.28.0-alpine");
    assert.equal(result.status, 1);
    assert.match(result.stderr, /nginx:1\.28\.0-alpine is still not in platform-dev-web's engine after the load/);
  });

  it("refuses to run without its inputs", () => {
    const result = run([], []);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /IMAGES is required/);
  });
});
