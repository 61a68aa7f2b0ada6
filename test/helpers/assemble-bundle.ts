import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PerRole, Role } from "../../components/platform/roles";
import { MemberFacts } from "../../components/platform/topology";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { renderedFiles } from "../../components/bundles/rendered-files";
import { renderBundleFiles } from "../../components/bundles/files";
import { REPO_ROOT } from "../../components/platform/repo";
import { AlertSecrets } from "../../components/credentials/alert-receivers";
import { AlertingConfig } from "../../components/config/types";
import { TlsPems } from "../../components/credentials/tls";
import { IngestServerPems } from "../../components/credentials/ingest";
import { SAMPLE_FACTS, SAMPLE_MONITORING_CREDENTIALS, sampleEnv } from "./sample-facts";

const samplePem = (label: string) => `-----BEGIN ${label}-----\nc2FtcGxl\n-----END ${label}-----\n`;
/** Stand-ins for the program's certificates (components/credentials/tls.ts): the CA and a node's pair. */
const SAMPLE_TLS: TlsPems = { caCert: samplePem("CERTIFICATE"), node: { cert: samplePem("CERTIFICATE"), key: samplePem("PRIVATE KEY") } };
/** And for the web host's ingest endpoint (components/credentials/ingest.ts): its pair, the client CA, key and users. */
const SAMPLE_INGEST: IngestServerPems = {
  serverCert: samplePem("CERTIFICATE"),
  serverKey: samplePem("PRIVATE KEY"),
  clientCaCert: samplePem("CERTIFICATE"),
  sharedKey: "SampleSharedKey",
  users: { platform: "SamplePlatformPassword" },
};

const receiversOf = (secrets: AlertSecrets): AlertingConfig => ({ webhook: secrets.webhookUrl !== undefined, slack: secrets.slackWebhookUrl !== undefined });

export interface AssembleOptions {
  /** Where the bundle's folders are read from: the repository, or a copy a test edited. */
  root?: string;
  /** The `.env` variables; the sample facts' by default. */
  env?: Record<string, string>;
  /** The alert receivers' secrets (the receivers are those they name); none by default. */
  alertSecrets?: AlertSecrets;
  /** The platform's hosts (the monitoring host's scrape targets); the sample facts' by default. */
  members?: PerRole<MemberFacts[]>;
}

/** Lays a bundle out in a temp folder as the program lays it out on its host: folders and every rendered file. */
export async function assembleBundle(role: Role, options: AssembleOptions = {}): Promise<string> {
  const root = options.root ?? REPO_ROOT;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bundle-${role}-`));
  const [bundleRoot, ...extras] = BUNDLE_SOURCES[role];
  fs.cpSync(path.join(root, bundleRoot), dir, { recursive: true });
  for (const folder of extras) fs.cpSync(path.join(root, folder), path.join(dir, folder), { recursive: true });
  const rendered = await renderBundleFiles(
    BUNDLE_SOURCES[role],
    options.env ?? sampleEnv(role),
    renderedFiles(role, {
      members: options.members ?? SAMPLE_FACTS.members,
      alerting: receiversOf(options.alertSecrets ?? {}),
      alertSecrets: options.alertSecrets ?? {},
      monitoringCredentials: SAMPLE_MONITORING_CREDENTIALS,
      tls: SAMPLE_TLS,
      ingest: SAMPLE_INGEST,
    }),
    root,
  );
  for (const [file, content] of Object.entries(rendered)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

/** A copy of the repository folders one bundle is made of, for a test that edits them. */
export function copyBundleSources(role: Role): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `sources-${role}-`));
  for (const folder of BUNDLE_SOURCES[role]) fs.cpSync(path.join(REPO_ROOT, folder), path.join(root, folder), { recursive: true });
  return root;
}
