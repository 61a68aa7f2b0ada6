import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { remote, types } from "@pulumi/command";
import { Role } from "./roles";
import { Architecture } from "./config";

/** Canonical's AWS account, the publisher of the official Ubuntu images. */
const CANONICAL_OWNER_ID = "099720109477";

export const SSH_USER = "ubuntu";

/**
 * Waits for SSH to answer and cloud-init to finish. `cloud-init status --wait` exits 2 for recoverable errors
 * (deprecated keys and the like): those hosts are usable, so 2 counts as done.
 */
export const READINESS_SCRIPT = [
  "set -u",
  "rc=0; cloud-init status --wait >/dev/null || rc=$?",
  'if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then cloud-init status --long >&2; exit "$rc"; fi',
  "docker compose version >/dev/null",
].join("\n");

export interface HostArgs {
  role: Role;
  instanceType: string;
  architecture: Architecture;
  rootVolumeGiB: number;
  subnetId: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
  keyName: pulumi.Input<string>;
  userData: string;
  /** Secret: the private key the deploy connects with. */
  sshPrivateKey: pulumi.Input<string>;
}

/** One EC2 host: Ubuntu 24.04, IMDSv2 only, encrypted gp3 root volume, and a readiness step other steps wait on. */
export class Host extends pulumi.ComponentResource {
  public readonly instance: aws.ec2.Instance;
  public readonly publicIp: pulumi.Output<string>;
  public readonly privateIp: pulumi.Output<string>;
  public readonly connection: types.input.remote.ConnectionArgs;
  /** Completes when SSH answers and cloud-init has finished. */
  public readonly ready: remote.Command;

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:Host", name, {}, opts);
    const parent = { parent: this };

    const ami = aws.ec2.getAmiOutput({
      owners: [CANONICAL_OWNER_ID],
      mostRecent: true,
      filters: [
        { name: "name", values: [`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${args.architecture === "arm64" ? "arm64" : "amd64"}-server-*`] },
        { name: "architecture", values: [args.architecture] },
        { name: "virtualization-type", values: ["hvm"] },
      ],
    }, parent);

    this.instance = new aws.ec2.Instance(name, {
      ami: ami.id,
      instanceType: args.instanceType,
      subnetId: args.subnetId,
      vpcSecurityGroupIds: [args.securityGroupId],
      keyName: args.keyName,
      associatePublicIpAddress: true,
      userData: args.userData,
      userDataReplaceOnChange: true,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: { volumeType: "gp3", volumeSize: args.rootVolumeGiB, encrypted: true, deleteOnTermination: true },
      tags: { Name: name, Role: args.role },
    }, {
      ...parent,
      // A newer Ubuntu image is published every few weeks; it must not replace a running host on the next `up`.
      ignoreChanges: ["ami"],
    });

    this.publicIp = this.instance.publicIp;
    this.privateIp = this.instance.privateIp;
    this.connection = {
      host: this.publicIp,
      user: SSH_USER,
      privateKey: args.sshPrivateKey,
      // A new instance takes a minute or two to answer SSH: keep dialing, but not forever.
      dialErrorLimit: 60,
      perDialTimeout: 15,
    };

    this.ready = new remote.Command(`${name}-ready`, {
      connection: this.connection,
      create: READINESS_SCRIPT,
      triggers: [this.instance.id],
    }, parent);

    this.registerOutputs({ publicIp: this.publicIp, privateIp: this.privateIp });
  }
}
