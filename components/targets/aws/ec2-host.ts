import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { remote, types } from "@pulumi/command";
import { Architecture } from "../../config/types";
import { Role } from "../../platform/roles";
import { scriptWithInputs } from "../../platform/shell";
import { PORTS, PortName, isOperatorUi } from "../../platform/ports";
import { LocalPorts, UiService } from "../../platform/loopback-ports";
import { UBUNTU_IMAGE_SERIAL } from "../../platform/versions";
import { PlatformHost, SSH_USER, platformHostFile } from "../platform-host";
import { HOST_PACKAGES, HOST_SERVICES, renderUserData } from "./user-data";

/** Canonical's AWS account, the publisher of the official Ubuntu images. */
const CANONICAL_OWNER_ID = "099720109477";

/** The name of Canonical's Ubuntu 24.04 image build this platform runs on, for one architecture. */
export const ubuntuImageName = (architecture: Architecture): string =>
  `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${architecture === "arm64" ? "arm64" : "amd64"}-server-${UBUNTU_IMAGE_SERIAL}`;

/** Waits for cloud-init (bounded), installs what it left out, starts the host services; see the script. */
const READINESS_SCRIPT = platformHostFile("ec2-ready.sh");

/** Formats the data volume on its first run, mounts it where Docker keeps its volumes on every run; see the script. */
const DATA_VOLUME_SCRIPT = platformHostFile("data-volume.sh");

/** Where the data volume is attached; on Nitro instances it appears as an NVMe device named by its volume id. */
export const DATA_VOLUME_DEVICE_NAME = "/dev/sdf";

/** The readiness command of an EC2 host whose data volume is `dataVolumeId`. */
export function readinessCommand(role: Role, bundleRoot: string, dataVolumeId: string): string {
  return scriptWithInputs(READINESS_SCRIPT, {
    HOST_ROLE: role,
    HOST_PACKAGES: HOST_PACKAGES.join(" "),
    HOST_SERVICES: HOST_SERVICES.join(" "),
    BUNDLE_ROOT: bundleRoot,
    SSH_USER,
    CONTAINER_HEALTH_PROBE: platformHostFile("container-health.sh"),
    DATA_VOLUME_ID: dataVolumeId,
    DATA_VOLUME_SCRIPT,
  });
}

export interface Ec2HostArgs {
  role: Role;
  instanceType: string;
  architecture: Architecture;
  rootVolumeGiB: number;
  /** The data volume's size: every Docker volume lives on it. */
  dataVolumeGiB: number;
  /** Tags of the data volume, beside its name: what the snapshot policy selects it by. */
  dataVolumeTags: Record<string, string>;
  subnetId: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
  keyName: pulumi.Input<string>;
  /** Parent of the host's bundles, e.g. `/opt/<project>`, owned by the SSH user. */
  bundleRoot: string;
  /** The zone of the subnet, validated to offer the instance type. */
  availabilityZone: pulumi.Input<string>;
  /** Secret: the private key the deploy connects with. */
  sshPrivateKey: pulumi.Input<string>;
  /** The local ends of `npm run tunnel` (`localPorts`): where operators open the admin UIs. */
  localPorts: LocalPorts;
  /** The private address of the instance this one replaces or is, if one exists: it keeps it. */
  keptPrivateIp?: string;
  /** What the instance's creation or change waits for: in a cluster, the previous member back in a healthy cluster. */
  changesAfter: pulumi.Input<pulumi.Resource>[];
}

/**
 * One EC2 host: Ubuntu 24.04, IMDSv2 only, encrypted gp3 root volume, an encrypted gp3 data volume that outlives the
 * instance, and a readiness step other steps wait on.
 */
export class Ec2Host extends pulumi.ComponentResource implements PlatformHost {
  public readonly instance: aws.ec2.Instance;
  public readonly publicIp: pulumi.Output<string>;
  public readonly privateIp: pulumi.Output<string>;
  /** Changes with every change of the instance: a replacement or a resize (a stop/start keeps it). */
  public readonly revision: pulumi.Output<string>;
  /** Every Docker volume of the host; not replaced with the instance. */
  public readonly dataVolume: aws.ebs.Volume;
  public readonly connection: types.input.remote.ConnectionArgs;
  public readonly sshPort = PORTS.ssh;
  public readonly zone: pulumi.Output<string>;
  /** Completes when SSH answers, cloud-init has finished, and Docker and node_exporter run. */
  public readonly ready: remote.Command;
  private readonly localPorts: LocalPorts;

  constructor(name: string, args: Ec2HostArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type token of the first release, when it was the only kind of host: it is part of every existing URN.
    super("logplatform:index:Host", name, {}, opts);
    const parent = { parent: this };
    this.localPorts = args.localPorts;

    // One fixed image build per architecture: a newer image never replaces a running host on its own, and a change of
    // architecture (t4g -> t3) changes the image, which replaces the host instead of leaving it stopped.
    const imageName = ubuntuImageName(args.architecture);
    const ami = aws.ec2.getAmiIdsOutput({
      owners: [CANONICAL_OWNER_ID],
      // Canonical deprecates builds after a while; a deprecated image still launches.
      includeDeprecated: true,
      filters: [
        { name: "name", values: [imageName] },
        { name: "architecture", values: [args.architecture] },
        { name: "virtualization-type", values: ["hvm"] },
      ],
    }, parent).apply((found) => {
      // Canonical may make an old, superseded build private: say what to do instead of "no results".
      if (found.ids.length === 0) {
        throw new Error(`${imageName} is not available in this region (Canonical retires old builds): raise UBUNTU_IMAGE_SERIAL in components/platform/versions.ts to a current build; that replaces the hosts`);
      }
      return found.ids[0];
    });

    // Created in the instance's zone and never replaced with it: a replaced host comes back with its data.
    this.dataVolume = new aws.ebs.Volume(`${name}-data`, {
      availabilityZone: args.availabilityZone,
      size: args.dataVolumeGiB,
      type: "gp3",
      encrypted: true,
      tags: { Name: `${name}-data`, Role: args.role, ...args.dataVolumeTags },
    }, parent);

    this.instance = new aws.ec2.Instance(name, {
      ami,
      instanceType: args.instanceType,
      subnetId: args.subnetId,
      availabilityZone: args.availabilityZone,
      vpcSecurityGroupIds: [args.securityGroupId],
      keyName: args.keyName,
      associatePublicIpAddress: true,
      // The address of the instance it replaces (the old one is gone first): the other members' configuration holds.
      privateIp: args.keptPrivateIp,
      userData: renderUserData(args.role, args.bundleRoot, SSH_USER),
      userDataReplaceOnChange: true,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: { volumeType: "gp3", volumeSize: args.rootVolumeGiB, encrypted: true, deleteOnTermination: true },
      tags: { Name: name, Role: args.role },
    }, {
      ...parent,
      // The data volume attaches to one instance at a time: the old one goes (and its attachment first) before the new.
      deleteBeforeReplace: true,
      dependsOn: args.changesAfter,
    });
    const attachment = new aws.ec2.VolumeAttachment(`${name}-data`, {
      instanceId: this.instance.id,
      volumeId: this.dataVolume.id,
      deviceName: DATA_VOLUME_DEVICE_NAME,
      // Detached only from a stopped instance: every service has shut down cleanly by then.
      stopInstanceBeforeDetaching: true,
    }, { ...parent, deleteBeforeReplace: true });

    this.zone = pulumi.output(args.availabilityZone);
    this.publicIp = this.instance.publicIp;
    // A kept address is known before the instance is registered: what renders it need not wait for the instance.
    this.privateIp = args.keptPrivateIp ? pulumi.output(args.keptPrivateIp) : this.instance.privateIp;
    this.revision = pulumi.interpolate`${this.instance.id} ${this.instance.instanceType}`;
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
      create: this.dataVolume.id.apply((volumeId) => readinessCommand(args.role, args.bundleRoot, volumeId)),
      // Again after a resize too, and after the data volume grows: its file system grows with it.
      triggers: [this.revision, this.dataVolume.size],
    }, { ...parent, dependsOn: [attachment] });

    this.registerOutputs({ publicIp: this.publicIp, privateIp: this.privateIp });
  }

  endpoint(service: PortName): pulumi.Output<string> {
    // No security group opens the admin UIs: operators reach them at the local end of `npm run tunnel`.
    if (isOperatorUi(service)) return pulumi.output(`127.0.0.1:${this.localPorts[service as UiService]}`);
    return pulumi.interpolate`${this.publicIp}:${PORTS[service]}`;
  }
}
