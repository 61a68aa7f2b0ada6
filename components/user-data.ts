import { stringify } from "yaml";
import { Role } from "./roles";

/** Elasticsearch refuses to start below this mmap count (bootstrap check). */
export const ELASTICSEARCH_MAX_MAP_COUNT = 262144;

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
    packages: ["docker.io", "docker-compose-v2", "prometheus-node-exporter"],
    write_files: [
      {
        // Written before the packages install, so Docker starts with it. Compose services set the same rotation.
        path: "/etc/docker/daemon.json",
        permissions: "0644",
        content: JSON.stringify({ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "5" } }, null, 2) + "\n",
      },
      ...(elasticsearchHost ? [{ path: "/etc/sysctl.d/90-elasticsearch.conf", permissions: "0644", content: `${sysctl}\n` }] : []),
    ],
    runcmd: [
      ["systemctl", "enable", "--now", "docker.service", "prometheus-node-exporter.service"],
      ["install", "-d", "-o", sshUser, "-g", sshUser, "-m", "0755", bundleRoot],
    ],
  };
  return `#cloud-config\n${stringify(cloudConfig)}`;
}
