import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { remote, types } from "@pulumi/command";
import { Role } from "../../platform/roles";
import { PortName } from "../../platform/ports";
import { LoopbackPort } from "../../platform/loopback-ports";
import { scriptWithInputs } from "../../platform/shell";
import { PlatformHost, SSH_USER, platformHostFile } from "../platform-host";
import { LocalImages } from "./images";

/** The readiness command of a local host: its inner Docker engine answers. */
export function localReadinessCommand(role: Role, bundleRoot: string): string {
  return scriptWithInputs(platformHostFile("local-ready.sh"), {
    HOST_ROLE: role,
    BUNDLE_ROOT: bundleRoot,
    SSH_USER,
  });
}

export interface DockerHostArgs {
  role: Role;
  /** The member's name (`logging`, `logging-2`, ...). */
  hostname: string;
  /** Id of the host image on the local engine. */
  image: pulumi.Input<string>;
  /** The private network standing in for the VPC. */
  network: pulumi.Input<string>;
  /** Static address on that network: what the other hosts' `.env` name. */
  privateIp: string;
  /** What the host publishes on 127.0.0.1, SSH included. */
  ports: LoopbackPort[];
  memoryMiB: number;
  /** A stand-in zone name: cluster members carry it as their zone attribute and rack, as on AWS. */
  zone: string;
  sshPublicKey: pulumi.Input<string>;
  /** Secret: the private key the deploy connects with. */
  sshPrivateKey: pulumi.Input<string>;
  bundleRoot: string;
  /** The images its bundle runs, pulled once by the user's engine (`dockerHost`) and loaded into this host's. */
  images: { cache: LocalImages; names: string[]; dockerHost: string };
  /** What the container's creation or replacement waits for: in a cluster, the previous member back in a healthy cluster. */
  changesAfter: pulumi.Input<pulumi.Resource>[];
}

/**
 * One platform host as a container on the local Docker engine: privileged, with its own engine whose data lives in a
 * named volume, SSH for the deploy, node_exporter, a static address on the private network, and the same readiness
 * contract as an EC2 host, so bundles, their SSH copy and the pipeline check run unchanged.
 */
export class DockerHost extends pulumi.ComponentResource implements PlatformHost {
  public readonly container: docker.Container;
  public readonly revision: pulumi.Output<string>;
  public readonly privateIp: pulumi.Output<string>;
  public readonly publicIp = pulumi.output("127.0.0.1");
  public readonly sshPort: number;
  public readonly zone: pulumi.Output<string>;
  public readonly connection: types.input.remote.ConnectionArgs;
  /** Its own engine answers. */
  public readonly engineReady: remote.Command;
  /** Its bundle's images are in its engine: what the bundle waits for. */
  public readonly ready: pulumi.Resource;
  private readonly ports: LoopbackPort[];

  constructor(name: string, args: DockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:DockerHost", name, {}, opts);
    const parent = { parent: this };
    const ssh = args.ports.find((port) => port.service === "ssh");
    if (!ssh) throw new Error(`${name}: the ${args.hostname} host publishes no SSH port`);
    this.ports = args.ports;
    this.sshPort = ssh.hostPort;

    // The inner engine's images, containers and volumes: kept when the host container is replaced.
    const engineData = new docker.Volume(`${name}-engine`, { name: `${name}-engine` }, parent);

    this.container = new docker.Container(name, {
      name,
      image: args.image,
      hostname: args.hostname,
      // Docker-in-Docker needs it; it also lets the logging host set vm.max_map_count.
      privileged: true,
      restart: "unless-stopped",
      memory: args.memoryMiB,
      networksAdvanced: [{ name: args.network, ipv4Address: args.privateIp }],
      ports: args.ports.map((port) => ({ internal: port.containerPort, external: port.hostPort, ip: "127.0.0.1" })),
      volumes: [{ volumeName: engineData.name, containerPath: "/var/lib/docker" }],
      envs: [`HOST_ROLE=${args.role}`, pulumi.interpolate`SSH_PUBLIC_KEY=${args.sshPublicKey}`],
    }, { ...parent, dependsOn: args.changesAfter });

    this.revision = this.container.id;
    this.privateIp = pulumi.output(args.privateIp);
    this.zone = pulumi.output(args.zone);
    this.connection = {
      host: "127.0.0.1",
      port: ssh.hostPort,
      user: SSH_USER,
      privateKey: args.sshPrivateKey,
      dialErrorLimit: 30,
      perDialTimeout: 10,
    };

    this.engineReady = new remote.Command(`${name}-ready`, {
      connection: this.connection,
      create: localReadinessCommand(args.role, args.bundleRoot),
      triggers: [this.container.id],
    }, parent);
    this.ready = args.images.cache.loadInto(`${name}-images`, { containerName: name, containerId: this.container.id, dockerHost: args.images.dockerHost },
      args.images.names, this.engineReady, parent);

    this.registerOutputs({ privateIp: this.privateIp, sshPort: this.sshPort });
  }

  endpoint(service: PortName): pulumi.Output<string> {
    const port = this.ports.find((p) => p.service === service);
    if (!port) throw new Error(`the ${service} port is not published by this local host`);
    return pulumi.output(`127.0.0.1:${port.hostPort}`);
  }
}
