import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { DEFAULT_INSTANCE_TYPES, DEFAULT_ROOT_VOLUME_GIB } from "../../components/config/keys";
import { BUNDLE_SOURCES, BUNDLE_STARTS_AFTER } from "../../components/bundles/sources";
import { datasets, INDEX_PREFIXES, KAFKA_CONSUMER_GROUP, kafkaTopic } from "../../components/platform/naming";
import { PIPELINE_STAGE_ORDER } from "../../components/bundles/pipeline-check";
import { ROLES } from "../../components/platform/roles";
import { REPO_ROOT } from "../../components/platform/repo";
import { renderUserData } from "../../components/targets/aws/user-data";
import { IMAGE_VERSIONS } from "../../components/platform/versions";
import { filesIn, loadDashboardUids, loadDatasourceUids, loadKibanaObjects, repoDirs } from "../../verify/provisioning";
import { isOneShot, loadCompose, publishedPorts } from "../helpers/compose";
import { assertTableRows, markedTable, portRows, readDoc } from "../helpers/markdown";
import { loadDashboardProviders } from "../helpers/monitoring";

const doc = readDoc("ARCHITECTURE.md");
const NONE = "—";
/** Free text: any non-empty cell. */
const FREE = undefined;

/** Every `code span` of the document. */
const codeSpans = [...doc.text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);

describe("ARCHITECTURE.md", () => {
  it("lists every role with its default size, the folders it receives, its start order and pipeline stage", () => {
    assertTableRows(doc, "hosts-table", ROLES.map((role) => {
      const stage = PIPELINE_STAGE_ORDER.indexOf(role);
      return [
        role,
        DEFAULT_INSTANCE_TYPES[role],
        String(DEFAULT_ROOT_VOLUME_GIB[role]),
        BUNDLE_SOURCES[role].join(", "),
        BUNDLE_STARTS_AFTER[role].join(", ") || NONE,
        stage === -1 ? NONE : String(stage + 1),
      ];
    }));
  });

  it("lists exactly the compose services of each bundle, with image, lifetime and published ports", () => {
    assertTableRows(doc, "services-table", ROLES.flatMap((role) => Object.entries(loadCompose(role).services).map(([name, service]) => [
      role,
      name,
      service.image ?? NONE,
      isOneShot(service) ? "one-shot" : "long-running",
      publishedPorts(service).join(", ") || NONE,
      FREE,
    ])));
  });

  it("lists every port of PORTS with the hosts and sources of its security-group rules", () => {
    assertTableRows(doc, "ports-table", portRows().map(({ port, name, hosts, from }) => [String(port), name, FREE, hosts, from]));
  });

  it("gives the topic pattern, topics, indices, consumer group and template names the code defines", () => {
    const setupDir = path.join(REPO_ROOT, "hosts", "logging", "setup");
    const templates = ["component-templates", "index-templates"].flatMap((folder) => filesIn(path.join(setupDir, folder), [".json"]));
    assertTableRows(doc, "names-table", [
      ["kafkaTopic()", kafkaTopic("<dataset>", "<data_type>", "<environment>"), FREE],
      ...Object.entries(datasets("<environment>")).map(([key, topic]) => [`datasets().${key}`, topic, FREE]),
      // The aggregator appends its logstash_dateformat, %Y.%m.%d.
      ...Object.entries(INDEX_PREFIXES).map(([key, prefix]) => [`INDEX_PREFIXES.${key}`, `${prefix}-YYYY.MM.DD`, FREE]),
      ["KAFKA_CONSUMER_GROUP", KAFKA_CONSUMER_GROUP, FREE],
      // setup.sh names each template (and a dataset's ILM policy) after its file.
      ...templates.map((file) => [path.relative(REPO_ROOT, file), path.basename(file, ".json"), FREE]),
    ]);
  });

  it("gives only topic examples that datasets() produces for their environment", () => {
    const examples = codeSpans.filter((span) => /^platform\.[^<>\s]+\.json$/.test(span));
    assert.ok(examples.length > 0, "ARCHITECTURE.md gives no example topic such as platform.gateway.access.dev.json");
    for (const example of examples) {
      const environment = example.split(".").slice(3, -1).join(".");
      assert.ok(Object.values(datasets(environment)).includes(example), `${example} is no topic of datasets("${environment}")`);
    }
  });

  it("names every provisioned Grafana datasource, folder and dashboard UID and every Kibana object id, and no other", () => {
    const dirs = repoDirs();
    assertTableRows(doc, "uids-table", [
      ...loadDatasourceUids(dirs.grafanaDatasources).map(({ uid, name }) => ["Grafana datasource", uid, name]),
      ...loadDashboardProviders().map(({ folderUid, folder }) => ["Grafana folder", folderUid, folder]),
      ...loadDashboardUids(dirs.grafanaDashboards).map(({ uid, name }) => ["Grafana dashboard", uid, name]),
      ...loadKibanaObjects(dirs.kibanaObjects).map(({ type, id, title }) => [`Kibana ${type}`, id, title ?? NONE]),
    ]);
  });

  it("gives every image version of IMAGE_VERSIONS", () => {
    assertTableRows(doc, "images-table", Object.entries(IMAGE_VERSIONS));
  });

  it("points at definitions that exist: each export of the defined-table is exported by its file", async () => {
    const rows = markedTable(doc, "defined-table");
    assert.ok(rows.length > 0, "ARCHITECTURE.md's defined-table has no rows");
    for (const [what, file, exports] of rows) {
      const module = (await import(path.join(REPO_ROOT, file))) as Record<string, unknown>;
      for (const name of exports.split(", ")) {
        assert.ok(name in module, `defined-table row "${what}": ${file} exports no ${name}`);
      }
    }
  });

  it("maps every folder of components/ to its concern, with exactly the folders its files import from", () => {
    const componentsDir = path.join(REPO_ROOT, "components");
    const files = filesIn(componentsDir, [".ts"], true);
    const topFolder = (file: string) => path.relative(componentsDir, file).split(path.sep)[0];
    const importsOf = (file: string) => [...fs.readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)]
      .map((m) => path.resolve(path.dirname(file), m[1]))
      .filter((target) => target.startsWith(componentsDir + path.sep));
    const folders = [...new Set(files.map((file) => path.dirname(file)))].sort();
    assertTableRows(doc, "layout-table", folders.map((folder) => {
      const direct = files.filter((file) => path.dirname(file) === folder);
      const imported = new Set(direct.flatMap(importsOf).map(topFolder).filter((top) => top !== topFolder(direct[0])));
      return [`${path.relative(REPO_ROOT, folder)}/`, FREE, [...imported].sort().join(", ") || NONE];
    }));
  });

  it("has no import cycle in the program: no two files import each other, even through others", () => {
    const sources = [path.join(REPO_ROOT, "index.ts"), ...filesIn(path.join(REPO_ROOT, "components"), [".ts"], true)];
    const importsOf = (file: string) => [...fs.readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)]
      .map((m) => `${path.resolve(path.dirname(file), m[1])}.ts`)
      .filter((target) => sources.includes(target));
    const done = new Set<string>();
    const visit = (file: string, trail: string[]): void => {
      if (trail.includes(file)) assert.fail(`import cycle: ${[...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(REPO_ROOT, f)).join(" -> ")}`);
      if (done.has(file)) return;
      for (const imported of importsOf(file)) visit(imported, [...trail, file]);
      done.add(file);
    };
    for (const file of sources) visit(file, []);
  });

  it("names only repository paths that exist", () => {
    const topLevel = new Set(fs.readdirSync(REPO_ROOT));
    const paths = codeSpans.filter((span) => /^[\w.-]+(\/[\w.<>*-]+)*\/?$/.test(span) && topLevel.has(span.split("/")[0]));
    assert.ok(paths.length > 0, "ARCHITECTURE.md names no repository path");
    for (const span of paths) {
      for (const file of span.includes("<role>") ? ROLES.map((role) => span.replace(/<role>/g, role)) : [span]) {
        const [dir, last] = [path.dirname(file), path.basename(file)];
        const pattern = new RegExp(`^${last.replace(/[.+]/g, "\\$&").replace(/\*/g, ".*")}$`);
        const found = fs.existsSync(path.join(REPO_ROOT, dir)) && fs.readdirSync(path.join(REPO_ROOT, dir)).some((entry) => pattern.test(entry));
        assert.ok(found, `ARCHITECTURE.md names ${span}, but ${file} is not in the repository`);
      }
    }
  });

  it("names the packages cloud-init installs on the hosts", () => {
    for (const role of ROLES) {
      const { packages } = parse(renderUserData(role, "/opt/x", "ubuntu")) as { packages: string[] };
      for (const name of packages) assert.ok(codeSpans.includes(name), `ARCHITECTURE.md does not name the package ${name} (user data of ${role})`);
    }
  });

  it("is what README points at, with no link outside the repository", () => {
    const readme = readDoc("README.md");
    assert.match(readme.text, /\]\(ARCHITECTURE\.md\)/, "README.md does not link ARCHITECTURE.md");
    for (const file of [readme, doc]) {
      assert.doesNotMatch(file.text, /\]\(\.\.\//, `${file.file} links a file outside the repository`);
    }
  });
});
