/**
 * Rendered paths that hold secrets: the bundle writes them 0600, like `.env`. Its own module, so that what renders
 * files into it (tls.ts, through bundle-env.ts) does not import the bundle, which imports bundle-env.ts.
 */
export const PRIVATE_RENDERED_DIR = "secrets";
