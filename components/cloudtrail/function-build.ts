import * as fs from "fs";
import * as path from "path";
import * as esbuild from "esbuild";
import { REPO_ROOT } from "../platform/repo";

/** The CloudTrail -> Kafka function's own package (its dependencies pinned by its package-lock.json). */
export const CLOUDTRAIL_FUNCTION_DIR = path.join(REPO_ROOT, "lambdas", "cloudtrail-to-kafka");
/**
 * Where the bundle is written: a fixed path, so that an unchanged source gives the same archive on every deploy;
 * under the package's node_modules, which git and eslint already ignore.
 */
const OUTPUT_DIR = path.join(CLOUDTRAIL_FUNCTION_DIR, "node_modules", ".cache", "bundle");

/**
 * Bundles the function into one self-contained `index.js` (CommonJS, exporting `handler`, for the nodejs24.x
 * runtime's `index.handler`) and returns the folder holding it, for `new pulumi.asset.FileArchive(folder)`.
 */
export async function buildCloudTrailFunction(): Promise<string> {
  if (!fs.existsSync(path.join(CLOUDTRAIL_FUNCTION_DIR, "node_modules", "stream-json"))) {
    throw new Error(`${path.relative(REPO_ROOT, CLOUDTRAIL_FUNCTION_DIR)} has no node_modules: run ` +
      "`npm ci` there (the root package's postinstall does it)");
  }
  const result = await esbuild.build({
    entryPoints: [path.join(CLOUDTRAIL_FUNCTION_DIR, "src", "handler.ts")],
    absWorkingDir: CLOUDTRAIL_FUNCTION_DIR,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    write: false,
    outfile: path.join(OUTPUT_DIR, "index.js"),
    logLevel: "silent",
    // The default entry of @platformatic/wasm-utils (the Kafka client's CRC32C and compression) reads native.wasm
    // beside itself; its `bundled` entry carries the same module inline.
    alias: { "@platformatic/wasm-utils": "@platformatic/wasm-utils/bundled" },
    // ESM dependencies call createRequire(import.meta.url) to load optional packages (@node-rs/crc32, protobufjs),
    // which are left out: give them this file's URL so that the lookup fails cleanly and their fallbacks run.
    define: { "import.meta.url": "__bundleFileUrl" },
    banner: { js: 'const __bundleFileUrl = require("url").pathToFileURL(__filename).href;' },
  });
  if (result.warnings.length > 0) {
    const messages = await esbuild.formatMessages(result.warnings, { kind: "warning" });
    throw new Error(`bundling ${path.relative(REPO_ROOT, CLOUDTRAIL_FUNCTION_DIR)} warned:\n${messages.join("\n")}`);
  }
  fs.rmSync(OUTPUT_DIR, { recursive: true, force: true });
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  for (const file of result.outputFiles) fs.writeFileSync(file.path, file.contents);
  return OUTPUT_DIR;
}
