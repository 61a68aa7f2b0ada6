import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { INGRESS_MATRIX } from "../../components/platform/ingress";
import { OPERATOR_UI_PORTS, PORTS, PortName } from "../../components/platform/ports";
import { ROLES } from "../../components/platform/roles";
import { REPO_ROOT } from "../../components/platform/repo";

/** A Markdown file of the repository, by its path from the root, e.g. `README.md`. */
export interface MarkdownDoc {
  file: string;
  text: string;
}

export const readDoc = (file: string): MarkdownDoc => ({ file, text: fs.readFileSync(path.join(REPO_ROOT, file), "utf8") });

/** Rows of the Markdown table between `<!-- name ... -->` and `<!-- /name -->`, cells without backticks. */
export function markedTable(doc: MarkdownDoc, name: string): string[][] {
  const block = new RegExp(`<!-- ${name}[^>]*-->([\\s\\S]*?)<!-- /${name} -->`).exec(doc.text);
  assert.ok(block, `${doc.file} has no ${name} block`);
  return block[1].trim().split("\n").slice(2).map((line) => line.split(" | ").map((cell) => cell.replace(/^\|\s*|\s*\|$/g, "").replace(/`/g, "").trim()));
}

/**
 * Compares a table's rows with the rows the code implies, on the columns the code decides; `undefined` in an
 * expected row is a free-text column (any non-empty text). Fails naming each row to add or remove.
 */
export function assertTableRows(doc: MarkdownDoc, name: string, expected: (string | undefined)[][]): void {
  assert.ok(expected.length > 0, `the code gives no rows for ${doc.file}'s table ${name}`);
  const rows = markedTable(doc, name);
  const decided = expected[0].map((cell) => cell !== undefined);
  const key = (row: (string | undefined)[]) => row.filter((_, i) => decided[i]).join(" | ");
  const show = (row: (string | undefined)[]) => `| ${row.map((cell) => cell ?? "…").join(" | ")} |`;
  const unmatched = [...rows];
  const missing: string[] = [];
  for (const row of expected) {
    const index = unmatched.findIndex((documented) => key(documented) === key(row));
    if (index === -1) missing.push(`add row ${show(row)}`);
    else unmatched.splice(index, 1);
  }
  const problems = [
    ...missing,
    ...unmatched.map((row) => `remove row ${show(row)}`),
    ...rows.filter((row) => row.length !== decided.length || row.some((cell) => cell === "")).map((row) => `fill every column of ${show(row)}`),
  ];
  if (problems.length > 0) assert.fail(`${doc.file}, table ${name}, differs from the code:\n  ${problems.join("\n  ")}`);
}

export interface PortRow {
  port: number;
  name: PortName;
  /** Roles whose security group opens the port, `all` when every role does. */
  hosts: string;
  /** Who may connect: roles, `operator CIDRs` or `anywhere`. */
  from: string;
}

/** One row per port of PORTS, with the hosts and sources of its INGRESS_MATRIX rules, as the docs' ports tables show them. */
export function portRows(): PortRow[] {
  return (Object.keys(PORTS) as PortName[]).map((name) => {
    const rules = INGRESS_MATRIX.filter((r) => r.port === name);
    const tunneled = OPERATOR_UI_PORTS.filter((ui) => ui.service === name);
    const hosts = ROLES.filter((role) => rules.some((r) => r.to === role) || tunneled.some((ui) => ui.role === role));
    const from = [
      ...new Set(rules.map((r) => (typeof r.from === "object" ? ("role" in r.from ? r.from.role : `${r.from.module} module`) : r.from === "operators" ? "operator CIDRs" : r.from === "logSources" ? "log source CIDRs" : r.from))),
      // Not a security-group rule: the operators' SSH tunnel ends on the host itself.
      ...(tunneled.length > 0 ? ["SSH tunnel"] : []),
    ];
    return { port: PORTS[name], name, hosts: hosts.length === ROLES.length ? "all" : hosts.join(", "), from: from.join(", ") };
  });
}
