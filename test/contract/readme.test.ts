import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { CONFIG_KEYS } from "../../components/config/keys";
import { parseConfig } from "../../components/config/parse";
import { REPO_ROOT } from "../../components/platform/repo";
import { PROJECT } from "../setup";
import { markedTable, portRows, readDoc } from "../helpers/markdown";

const readme = readDoc("README.md");
const table = (name: string) => markedTable(readme, name);

describe("README", () => {
  it("documents every config key with the default and effect the config component has", () => {
    const rows = table("config-table").map(([key, def, effect]) => ({ key, default: def, description: effect.replace(/`/g, "") }));
    assert.deepEqual(rows, CONFIG_KEYS.map((k) => ({ ...k, description: k.description.replace(/`/g, "") })));
  });

  it("lists every port of the security groups, with the hosts and sources that reach it", () => {
    const rows = table("ports-table");
    const documented = rows.map(([port, , hosts, from]) => `${port} ${hosts} ${from}`).sort();
    const expected = portRows().map(({ port, hosts, from }) => `${port} ${hosts} ${from}`);
    assert.deepEqual(documented, expected.sort());
  });

  it("gives test commands that exist as npm scripts, and .ci/run runs them", () => {
    const scripts = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const ci = fs.readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8");
    for (const command of ["npm test", "npm run test:integration", "npm run verify"]) {
      assert.ok(readme.text.includes(command), `README does not mention ${command}`);
      const script = command === "npm test" ? "test" : command.split(" ").pop()!;
      assert.ok(scripts[script], `package.json has no "${script}" script`);
    }
    assert.match(ci, /^npm test$/m);
    assert.match(ci, /^npm run test:integration$/m);
  });

  for (const [stackName, target] of [["dev", "aws"], ["local", "docker"]] as const) {
    it(`ships a complete ${stackName} stack file (target ${target}) that the config component accepts as it is`, () => {
      const file = `Pulumi.${stackName}.yaml`;
      const stack = parse(fs.readFileSync(path.join(REPO_ROOT, file), "utf8")) as { config: Record<string, unknown> };
      const values = Object.fromEntries(Object.entries(stack.config).map(([key, value]) => [
        key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]));
      const known = new Set(CONFIG_KEYS.map((k) => k.key));
      for (const key of Object.keys(values)) assert.ok(known.has(key), `${file} sets unknown key ${key}`);
      const config = parseConfig({ get: (key) => values[key], hasSshPrivateKey: false, stackName, namespace: PROJECT });
      assert.equal(config.environment, stackName);
      assert.equal(config.target, target);
      if (target === "docker") {
        assert.deepEqual(Object.keys(values).filter((key) => key.startsWith("aws:")), [], `${file} needs no AWS setting`);
      } else {
        assert.deepEqual(config.operatorCidrs, []);
      }
    });
  }
});
