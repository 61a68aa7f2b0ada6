/**
 * Rendered paths that hold secrets: the bundle writes them 0600, like `.env`. Part of the vocabulary, so that the
 * credentials that render files under it (credentials/tls.ts, credentials/monitoring.ts) need not import bundles/.
 */
export const PRIVATE_RENDERED_DIR = "secrets";
