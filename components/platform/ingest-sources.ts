/**
 * The ingest endpoint's sources: each authenticates as itself, a user of the forward input (its name, its password)
 * and the common name of an OTLP client certificate. Config (`logSources`) names the users' own; the stack's own is
 * always there besides them.
 */
export const INGEST_PLATFORM_SOURCE = "platform";
export const DEFAULT_LOG_SOURCES = ["default"] as const;
/** A source's name: a forward user name (no space: the input splits `user password` at the first one). */
export const LOG_SOURCE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Every source the endpoint accepts: the stack's own first, then the configured ones. */
export const ingestSources = (logSources: readonly string[]): string[] => [INGEST_PLATFORM_SOURCE, ...logSources];
