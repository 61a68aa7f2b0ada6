import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Role } from "../../components/roles";
import { BUNDLE_SOURCES, renderDotEnv } from "../../components/bundle-env";
import { REPO_ROOT } from "../../components/repo";
import { renderScrapeTargets } from "../../components/scrape-targets";
import { SAMPLE_FACTS, sampleEnv } from "./sample-facts";

/** Lays a bundle out in a temp folder as the program lays it out on its host: folders, `.env`, rendered files. */
export function assembleBundle(role: Role): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bundle-${role}-`));
  const [root, ...extras] = BUNDLE_SOURCES[role];
  fs.cpSync(path.join(REPO_ROOT, root), dir, { recursive: true });
  for (const folder of extras) fs.cpSync(path.join(REPO_ROOT, folder), path.join(dir, folder), { recursive: true });
  const rendered: Record<string, string> = {
    ...(role === "monitoring" ? renderScrapeTargets(SAMPLE_FACTS.privateIps) : {}),
    ".env": renderDotEnv(sampleEnv(role)),
  };
  for (const [file, content] of Object.entries(rendered)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}
