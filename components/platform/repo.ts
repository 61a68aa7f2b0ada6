import * as path from "path";

/** The repository root: bundles, provisioning files and fixtures are found from here, wherever the code runs. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
