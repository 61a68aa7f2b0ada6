import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as bcrypt from "bcryptjs";
import { stringify } from "yaml";
import { PRIVATE_RENDERED_DIR } from "../platform/rendered-paths";

/**
 * Who logs in to Prometheus and Alertmanager (basic auth, their `--web.config.file`): the operators, and one user per
 * client, so each password lives only where that client runs. Prometheus' own user scrapes itself, posts alerts
 * and runs its healthcheck; Alertmanager's own user only runs its healthcheck.
 */
export const MONITORING_USERS = ["operator", "grafana", "prometheus", "alertmanager"] as const;
export type MonitoringUser = (typeof MONITORING_USERS)[number];

/** The users each server lets in. */
export const WEB_USERS = {
  prometheus: ["operator", "grafana", "prometheus"],
  alertmanager: ["operator", "grafana", "prometheus", "alertmanager"],
} as const satisfies Record<"prometheus" | "alertmanager", readonly MonitoringUser[]>;
export type MonitoringServer = keyof typeof WEB_USERS;

export interface MonitoringCredential {
  password: string;
  /** bcrypt's 22-character salt, kept in the stack: the same password gives the same hash on every `pulumi up`. */
  salt: string;
}
export type MonitoringCredentials = Record<MonitoringUser, MonitoringCredential>;

/** Where the program renders each server's files in the monitoring bundle: under `secrets/`, written 0600. */
export const monitoringSecretsDir = (server: MonitoringServer): string => `${PRIVATE_RENDERED_DIR}/${server}`;

/** Where each server's container reads its copy of those files (the compose one-shot `secrets` hands it over). */
export const CONTAINER_SECRETS_DIR = "/secrets";

/** The files of each server's secrets folder. */
export const SECRET_FILES = {
  webConfig: "web.yml",
  /** The server's own user's password: what its healthcheck (and Prometheus' scrape of itself and its alerts) send. */
  password: "password",
  /** promtool's / amtool's HTTP client config: the server's own user, with the password file above. */
  clientConfig: "client.yml",
} as const;

/** exporter-toolkit's advice: cost 10 takes about 70 ms, once per user (the server caches the result). */
const BCRYPT_COST = 10;

/**
 * A password and a bcrypt salt per user, generated once and kept in the stack state (Pulumi secrets). Alphanumeric:
 * the passwords travel through `.env` and Grafana's `$VAR` expansion untouched.
 */
export function generateMonitoringCredentials(name: string): pulumi.Output<MonitoringCredentials> {
  const credential = (user: MonitoringUser): pulumi.Output<MonitoringCredential> => pulumi.all([
    new random.RandomPassword(`${name}-monitoring-${user}`, { length: 24, special: false }).result,
    new random.RandomBytes(`${name}-monitoring-${user}-salt`, { length: 16 }).base64,
  ]).apply(([password, saltBytes]) => ({ password, salt: bcrypt.encodeBase64(Buffer.from(saltBytes, "base64"), 16) }));
  const credentials = pulumi.all(MONITORING_USERS.map(credential))
    .apply((all) => Object.fromEntries(all.map((c, i) => [MONITORING_USERS[i], c])) as MonitoringCredentials);
  return pulumi.secret(credentials);
}

/** An exporter-toolkit web config: basic auth for the given users, by bcrypt hash. */
export function renderWebConfig(users: readonly MonitoringUser[], credentials: MonitoringCredentials): string {
  const hashes = Object.fromEntries(users.map((user) => {
    const { password, salt } = credentials[user];
    if (!/^[./A-Za-z0-9]{22}$/.test(salt)) throw new Error(`monitoring user ${user}: the bcrypt salt must be 22 characters of ./A-Za-z0-9, got ${salt.length}`);
    return [user, bcrypt.hashSync(password, `$2b$${BCRYPT_COST}$${salt}`)];
  }));
  // The header deployed hosts have (the path before components/ had folders): a new one would restart both servers.
  return `# Rendered by the program (components/monitoring-auth.ts).\n${stringify({ basic_auth_users: hashes })}`;
}

/** Each server's secrets folder: its web config, its own user's password, and its CLI's HTTP client config. */
export function renderMonitoringSecrets(credentials: MonitoringCredentials): Record<string, string> {
  return Object.fromEntries((Object.keys(WEB_USERS) as MonitoringServer[]).flatMap((server) => {
    const dir = monitoringSecretsDir(server);
    const client = { basic_auth: { username: server, password_file: `${CONTAINER_SECRETS_DIR}/${SECRET_FILES.password}` } };
    return [
      [`${dir}/${SECRET_FILES.webConfig}`, renderWebConfig(WEB_USERS[server], credentials)],
      [`${dir}/${SECRET_FILES.password}`, credentials[server].password],
      [`${dir}/${SECRET_FILES.clientConfig}`, stringify(client)],
    ];
  }));
}

