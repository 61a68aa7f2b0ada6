import { stringify } from "yaml";
import { Role } from "../../platform/roles";

/** Elasticsearch refuses to start below this mmap count (bootstrap check). */
export const ELASTICSEARCH_MAX_MAP_COUNT = 262144;

/** What every host installs from Ubuntu's archive; the readiness step installs again whatever is missing. */
export const HOST_PACKAGES = ["docker.io", "docker-compose-v2", "prometheus-node-exporter", "rsync"] as const;
/** Host services that must run before any bundle starts. */
export const HOST_SERVICES = ["docker.service", "prometheus-node-exporter.service"] as const;

/**
 * cloud-init user data: Docker, the compose plugin and node_exporter from Ubuntu's archive, the bundle root owned by
 * the SSH user. It holds no secret: secrets reach a host only in its bundle's `.env`, over SSH.
 */
export function renderUserData(role: Role, bundleRoot: string, sshUser: string): string {
  const elasticsearchHost = role === "logging";
  const sysctl = `vm.max_map_count=${ELASTICSEARCH_MAX_MAP_COUNT}`;
  const cloudConfig = {
    // Set on every boot, before Docker starts any container; the file keeps it for manual sysctl reloads.
    ...(elasticsearchHost ? { bootcmd: [["sysctl", "-w", sysctl]] } : {}),
    package_update: true,
    packages: [...HOST_PACKAGES],
    write_files: [
      {
        // Written before the packages install, so Docker starts with it. Compose services set the same rotation.
        path: "/etc/docker/daemon.json",
        permissions: "0644",
        content: JSON.stringify({ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "5" } }, null, 2) + "\n",
      },
      {
        // A mirror that drops a connection on first boot is retried instead of failing the install.
        path: "/etc/apt/apt.conf.d/80-retries",
        permissions: "0644",
        content: 'Acquire::Retries "5";\n',
      },
      ...(elasticsearchHost ? [{ path: "/etc/sysctl.d/90-elasticsearch.conf", permissions: "0644", content: `${sysctl}\n` }] : []),
    ],
    runcmd: [
      ["systemctl", "enable", "--now", ...HOST_SERVICES],
      ["install", "-d", "-o", sshUser, "-g", sshUser, "-m", "0755", bundleRoot],
    ],
  };
  return `#cloud-config\n${stringify(cloudConfig)}`;
}
