import * as fs from "fs";
import { parse } from "yaml";
import { Role } from "../platform/roles";
import { IMAGE_VERSIONS } from "../platform/versions";
import { bundlePathSource, composeFiles } from "./files";
import { BUNDLE_SOURCES } from "./sources";

/**
 * The container images a role's bundle runs, as its compose files name them with IMAGE_VERSIONS put in (the `.env`
 * gives the same values): `fluent/fluent-bit:5.1.3`, ... Sorted, each once.
 */
export function bundleImages(role: Role): string[] {
  const folders = BUNDLE_SOURCES[role];
  const images = composeFiles(folders).flatMap((file) => {
    const compose = parse(fs.readFileSync(bundlePathSource(folders, file), "utf8"), { merge: true }) as { services: Record<string, { image?: string }> };
    return Object.values(compose.services).flatMap((service) => (service.image ? [service.image] : []));
  });
  return [...new Set(images.map((image) => image.replace(/\$\{([A-Z_]+)\}/g, (whole, key: string) => {
    if (!(key in IMAGE_VERSIONS)) throw new Error(`${role} bundle: image ${image} names ${whole}, which is not in IMAGE_VERSIONS`);
    return IMAGE_VERSIONS[key as keyof typeof IMAGE_VERSIONS];
  })))].sort();
}
