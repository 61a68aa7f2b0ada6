import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { hashElement } from "folder-hash";
import { PLATFORM_HOST_DIR } from "../platform-host";

/**
 * The local engine's share of the platform: a private network with the VPC's range, so the addresses in `.env` work
 * unchanged, and the host image, built from platform-host/ and removed again by `pulumi destroy`.
 */
export class LocalEngine extends pulumi.ComponentResource {
  public readonly network: docker.Network;
  public readonly hostImageId: pulumi.Output<string>;

  constructor(name: string, args: { vpcCidr: string }, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:LocalEngine", name, {}, opts);
    const parent = { parent: this };
    this.network = new docker.Network(`${name}-network`, {
      name,
      driver: "bridge",
      ipamConfigs: [{ subnet: args.vpcCidr }],
    }, parent);
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
