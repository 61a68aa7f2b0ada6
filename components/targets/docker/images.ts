import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { local } from "@pulumi/command";
import { scriptWithInputs } from "../../platform/shell";

const LOAD_IMAGES_SCRIPT = fs.readFileSync(path.join(__dirname, "load-images.sh"), "utf8");

/** A resource name from an image reference: `docker.elastic.co/kibana/kibana:8.19.25` -> `kibana_8.19.25`. */
export const imageResourceName = (image: string): string => image.split("/").pop()!.replace(":", "_").replace(/[^A-Za-z0-9._-]/g, "-");

/**
 * Images downloaded once per machine (target docker): the user's engine pulls every image the bundles run, and keeps
 * it when the stack is destroyed, so a second `pulumi up` downloads nothing; each host's own engine gets its bundle's
 * images from there (`loadInto`), never from a registry. Anonymous pulls, one per image per machine.
 */
export class LocalImages extends pulumi.ComponentResource {
  private readonly pulled: Map<string, docker.RemoteImage>;

  constructor(name: string, args: { images: string[] }, opts?: pulumi.ComponentResourceOptions) {
    super("logplatform:index:LocalImages", name, {}, opts);
    this.pulled = new Map(args.images.map((image) => [image, new docker.RemoteImage(`${name}-${imageResourceName(image)}`, {
      name: image,
      keepLocally: true,
    }, { parent: this })]));
    this.registerOutputs({ images: args.images });
  }

  /**
   * Loads `images` into a host container's engine from the user's engine (load-images.sh, with the docker CLI pointed
   * at `dockerHost`, the engine the provider uses): after `after` (the host's engine answers), again when the host
   * container or an image changes, skipping what that engine already has.
   */
  loadInto(name: string, host: { containerName: string; containerId: pulumi.Input<string>; dockerHost: string }, images: string[],
    after: pulumi.Resource, opts: pulumi.CustomResourceOptions = {}): local.Command {
    const pulled = images.map((image) => {
      const remote = this.pulled.get(image);
      if (!remote) throw new Error(`${image} is not among the images the local engine pulls`);
      return remote;
    });
    return new local.Command(name, {
      create: scriptWithInputs(LOAD_IMAGES_SCRIPT, { HOST_CONTAINER: host.containerName, IMAGES: images.join(" ") }),
      environment: { DOCKER_HOST: host.dockerHost },
      triggers: [host.containerId, ...pulled.map((image) => image.imageId)],
    }, { ...opts, dependsOn: [after, ...pulled] });
  }
}
