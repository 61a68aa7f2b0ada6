// Every resource an existing stack holds is still the same resource: for each shape of stack, every URN that the
// program registered when its fixture was written is registered again, or is an alias of exactly one resource now.
// A URN that is neither would be deleted by the next `pulumi up` (and its replacement created empty beside it).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { runProgram } from "../setup";
import { PLATFORM_SHAPES } from "../helpers/shapes";
import { REPO_ROOT } from "../../components/platform/repo";

const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "urns");
const fixture = (shape: string) => fs.readFileSync(path.join(FIXTURES, `${shape}.txt`), "utf8").trim().split("\n");

describe("resource URNs of existing stacks (Pulumi mocks)", function () {
  this.timeout(120_000);

  it("has a fixture for every shape and no other", () => {
    assert.deepEqual(fs.readdirSync(FIXTURES).sort(), Object.keys(PLATFORM_SHAPES).map((shape) => `${shape}.txt`).sort());
  });

  for (const [shape, config] of Object.entries(PLATFORM_SHAPES)) {
    it(`${shape}: keeps every URN of its fixture, as a URN or as the alias of exactly one resource`, async () => {
      const { resources } = await runProgram(config);
      const urns = new Set(resources.map((r) => r.urn));
      assert.equal(urns.size, resources.length, "two resources share a URN");
      const lost: string[] = [];
      for (const old of fixture(shape)) {
        const aliasedBy = resources.filter((r) => r.aliases.includes(old)).map((r) => r.urn);
        if (urns.has(old)) {
          assert.deepEqual(aliasedBy, [], `${old} is registered and also an alias of ${aliasedBy.join(", ")}`);
        } else if (aliasedBy.length !== 1) {
          lost.push(aliasedBy.length === 0 ? old : `${old} (aliased by ${aliasedBy.length}: ${aliasedBy.join(", ")})`);
        }
      }
      assert.deepEqual(lost, [], `URNs of an existing ${shape} stack that no resource keeps`);
    });
  }
});
