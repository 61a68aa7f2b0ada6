/** Checks, their timing and the verdict. A check passes by returning, warns by returning a warning, fails by throwing. */
export type Status = "PASS" | "WARN" | "FAIL";

export interface Outcome {
  status: Status;
  detail: string;
}

export interface Check {
  name: string;
  run(): Promise<string | Outcome>;
}

export interface Result extends Outcome {
  name: string;
  seconds: number;
}

export const pass = (detail: string): Outcome => ({ status: "PASS", detail });
export const warn = (detail: string): Outcome => ({ status: "WARN", detail });

/** Problems for one line: the first few, and how many more (a wholly wrong mapping would list every field). */
export function joinProblems(problems: readonly string[], max = 5): string {
  const more = problems.length > max ? `; and ${problems.length - max} more` : "";
  return problems.slice(0, max).join("; ") + more;
}

/** Exit codes of `npm run verify`. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function formatResult(r: Result): string {
  return `${r.status}  ${r.name.padEnd(38)} ${r.seconds.toFixed(2).padStart(7)}s  ${r.detail}`;
}

/** Runs the checks one after the other (the latency check sends traffic; the others must not race it). */
export async function runChecks(checks: readonly Check[], print: (line: string) => void): Promise<Result[]> {
  const results: Result[] = [];
  for (const check of checks) {
    const started = performance.now();
    let outcome: Outcome;
    try {
      const value = await check.run();
      outcome = typeof value === "string" ? pass(value) : value;
    } catch (err) {
      outcome = { status: "FAIL", detail: err instanceof Error ? err.message : String(err) };
    }
    const result = { name: check.name, ...outcome, seconds: (performance.now() - started) / 1000 };
    results.push(result);
    print(formatResult(result));
  }
  return results;
}

export function verdict(results: readonly Result[]): { line: string; exitCode: number } {
  const failed = results.filter((r) => r.status === "FAIL");
  const warned = results.filter((r) => r.status === "WARN");
  const warnings = warned.length ? `; ${warned.length} warning(s): ${warned.map((r) => r.name).join(", ")}` : "";
  if (failed.length) {
    return {
      line: `VERDICT: FAIL, ${failed.length} of ${results.length} checks failed: ${failed.map((r) => r.name).join(", ")}${warnings}`,
      exitCode: EXIT.failed,
    };
  }
  return { line: `VERDICT: PASS, ${results.length} checks passed${warnings}`, exitCode: EXIT.ok };
}
