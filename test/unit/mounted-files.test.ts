// mountedFilesHashes (components/bundles/files.ts) on a small bundle of its own: which file changes change a service's
// label (so `docker compose up` recreates it), and the rules for `x-live-files`, which a service reads while running.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { mountedFilesHashes } from "../../components/bundles/files";

describe("mounted-files labels (mountedFilesHashes)", () => {
  let root: string;
  const FOLDERS = ["hosts/box"];
  const compose = (services: Record<string, unknown>) =>
    fs.writeFileSync(path.join(root, "hosts/box/compose.yaml"), stringify({ services }));
  const labels = (rendered: Record<string, string>) => mountedFilesHashes(FOLDERS, rendered, root);

  // `watcher` re-reads conf/live/ while running; `plain` mounts the same folder without saying so.
  const WATCHER = { image: "x", volumes: ["./conf:/etc/conf:ro"], "x-live-files": ["./conf/live"] };
  const PLAIN = { image: "x", volumes: ["./conf:/etc/conf:ro"] };
  const RENDERED = { "conf/live/targets.json": "[1]\n", "conf/rendered.yml": "a: 1\n", ".env": "A=1\n" };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "mounted-files-"));
    fs.mkdirSync(path.join(root, "hosts/box/conf"), { recursive: true });
    fs.writeFileSync(path.join(root, "hosts/box/conf/app.yml"), "b: 1\n");
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("leaves a service's live files out of its label, and only its", async () => {
    compose({ watcher: WATCHER, plain: PLAIN });
    const before = await labels(RENDERED);
    const after = await labels({ ...RENDERED, "conf/live/targets.json": "[1, 2]\n", "conf/live/more.json": "[]\n" });
    assert.equal(after.watcher, before.watcher);
    assert.notEqual(after.plain, before.plain);
  });

  it("keeps every other file of the same mount in the label: rendered or from the repository", async () => {
    compose({ watcher: WATCHER });
    const before = await labels(RENDERED);
    assert.notEqual((await labels({ ...RENDERED, "conf/rendered.yml": "a: 2\n" })).watcher, before.watcher);
    fs.writeFileSync(path.join(root, "hosts/box/conf/app.yml"), "b: 2\n");
    assert.notEqual((await labels(RENDERED)).watcher, before.watcher);
  });

  it("refuses live files in a single-file mount: a file the sync replaced would not reach the container", async () => {
    compose({ watcher: { image: "x", volumes: ["./conf/live/targets.json:/etc/targets.json:ro"], "x-live-files": ["./conf/live/targets.json"] } });
    await assert.rejects(labels(RENDERED), /not in a directory it bind-mounts/);
  });

  it("refuses live files the service does not mount, that the repository holds, or that the bundle lacks", async () => {
    compose({ watcher: { image: "x", volumes: ["./conf/app.yml:/etc/app.yml:ro"], "x-config-files": ["./conf/live"], "x-live-files": ["./conf/live"] } });
    await assert.rejects(labels(RENDERED), /not in a directory it bind-mounts/);
    compose({ watcher: { ...WATCHER, "x-live-files": ["./conf/app.yml"] } });
    await assert.rejects(labels(RENDERED), /which the repository holds/);
    compose({ watcher: { ...WATCHER, "x-live-files": ["./conf/lvie"] } });
    await assert.rejects(labels(RENDERED), /which the bundle does not contain/);
  });
});
