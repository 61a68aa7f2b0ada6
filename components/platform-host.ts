import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { PortName } from "./ports";

/**
 * What everything above a host needs of it, whatever runs it (an EC2 instance or a container on the local engine):
 * an SSH connection for the bundle steps, an identity that changes only when the host is replaced, its address on the
 * private network, where operators reach its services, and a step that completes when it can run a bundle.
 */
export interface PlatformHost {
  connection: types.input.remote.ConnectionArgs;
  instanceId: pulumi.Output<string>;
  privateIp: pulumi.Output<string>;
  /** The address operators reach the host at. */
  publicIp: pulumi.Output<string>;
  sshPort: number;
  /** `address:port` at which operators reach one of the host's services. */
  endpoint(service: PortName): pulumi.Output<string>;
  ready: remote.Command;
}
