import { strict as assert } from "assert";
import type { Registered } from "../setup";

/** A statement of an IAM, bucket or topic policy. */
export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

/** The statements of a registered policy resource's `policy` input. */
export const statementsOf = (resource: Registered): Statement[] =>
  (JSON.parse(resource.inputs.policy as string) as { Statement: Statement[] }).Statement;

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
