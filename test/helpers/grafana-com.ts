import { spawn } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { MONITORING_DIR } from "./monitoring";

/** The monitoring host's grafana.com import script, run with the local Node instead of the pinned node image. */
export const IMPORT_SCRIPT = path.join(MONITORING_DIR, "grafana-com", "import-dashboards.mjs");

/** What the stand-in answers for one dashboard id: a status and a raw body (which need not be valid JSON). */
export interface Answer {
  status: number;
  body: string;
}

export const exportOf = (dashboard: unknown): Answer => ({ status: 200, body: JSON.stringify(dashboard) });

export interface GrafanaComStandIn {
  url: string;
  /** Every request path, in order: shows which downloads were made and how often they were retried. */
  requests: string[];
  close: () => Promise<void>;
}

/** A loopback grafana.com: /api/dashboards/<id>/revisions/<rev>/download answers from `answers`, else 404. */
export function startGrafanaCom(answers: Record<string, Answer>): Promise<GrafanaComStandIn> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const id = /^\/api\/dashboards\/(\d+)\/revisions\/\d+\/download$/.exec(req.url ?? "")?.[1];
    const answer = (id !== undefined && answers[id]) || { status: 404, body: JSON.stringify({ message: "not found" }) };
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(answer.body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  })));
}

/** Runs the import into `outDir` for `list` ("id:revision ...") against `baseUrl`. */
export function runImport(outDir: string, list: string, baseUrl: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // Async spawn: the stand-in server answers on this process's event loop.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [IMPORT_SCRIPT, outDir], {
      env: { PATH: process.env.PATH, GRAFANA_COM_DASHBOARDS: list, GRAFANA_COM_URL: baseUrl },
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
