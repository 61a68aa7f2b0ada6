import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { hashElement } from "folder-hash";
import { PLATFORM_HOST_DIR } from "../platform-host";

/**
 * The local engine's share of the platform: a Docker provider for the engine the user's docker CLI uses, a private
 * network with the VPC's range, so the addresses in `.env` work unchanged, and the host image, built from
 * platform-host/ and removed again by `pulumi destroy`.
 */
export class LocalEngine extends pulumi.ComponentResource {
  /** Every Docker resource of the platform goes through it: the image build as much as the containers. */
  public readonly provider: docker.Provider;
  public readonly network: docker.Network;
  public readonly hostImageId: pulumi.Output<string>;

  constructor(name: string, args: { vpcCidr: string; dockerHost: string }, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:LocalEngine", name, {}, opts);
    // An explicit host: without one the provider's containers go to DOCKER_HOST or /var/run/docker.sock, while its image
    // build also tries Docker Desktop's sockets in ~/.docker, so both could land on different engines.
    this.provider = new docker.Provider(`${name}-engine`, { host: args.dockerHost }, { parent: this });
    const parent = { parent: this, provider: this.provider };
    this.network = new docker.Network(`${name}-network`, {
      name,
      driver: "bridge",
      ipamConfigs: [{ subnet: args.vpcCidr }],
    }, {
      ...parent,
      // Its name is fixed: a new range (vpcCidr) can only replace it once the old one, and the hosts on it, are gone.
      deleteBeforeReplace: true,
    });
    // A tag per content: a changed image is a new tag, and replacing the old reference removes only the old one.
    const contentTag = pulumi.output(hashElement(PLATFORM_HOST_DIR, { algo: "sha256", encoding: "hex" })).apply((tree) => tree.hash.slice(0, 12));
    const built = new docker.Image(`${name}-host-image`, {
      build: { context: PLATFORM_HOST_DIR },
      imageName: pulumi.interpolate`${name.toLowerCase()}-host:${contentTag}`,
      skipPush: true,
    }, parent);
    // docker.Image leaves what it built on destroy; this reference to it removes it (keepLocally: false).
    const local = new docker.RemoteImage(`${name}-host-image-local`, { name: built.imageName, keepLocally: false }, parent);
    this.hostImageId = local.imageId;
    this.registerOutputs({ network: this.network.name, hostImageId: this.hostImageId });
  }
}
