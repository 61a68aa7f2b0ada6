import { Hosts, HostsArgs } from "./platform-host";
import { Network } from "./aws/network";
import { awsHosts } from "./aws/hosts";
import { dockerHosts } from "./docker/hosts";

/**
 * The hosts of the configured target, every role's members first member first. Only the hosts differ between
 * targets: everything from the bundles up is the same code and the same files. On aws the network comes too, for
 * the modules that run beside the hosts in the VPC.
 */
export async function createHosts(name: string, args: HostsArgs): Promise<{ hosts: Hosts; network?: Network }> {
  return args.config.target === "aws" ? awsHosts(name, args) : { hosts: dockerHosts(name, args) };
}
