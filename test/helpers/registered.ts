import { strict as assert } from "assert";
import type { Registered } from "../setup";

/**
 * Lookups over the resources one program run registered; `resources` is read at each call, since a test file fills
 * it in its `before` hook.
 */
export function lookups(resources: () => Registered[]): { ofType(type: string): Registered[]; byName(name: string): Registered } {
  return {
    ofType: (type) => resources().filter((r) => r.type === type),
    byName: (name) => {
      const found = resources().find((r) => r.name === name);
      assert.ok(found, `no resource named ${name}; registered: ${resources().map((r) => r.name).join(", ")}`);
      return found;
    },
  };
}
