import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { PRIVATE_RENDERED_DIR } from "../platform/rendered-paths";
import { ingestSources } from "../platform/ingest-sources";
import { CertificateAuthority, certificateAuthority, issueCertificate } from "./tls";

/**
 * The ingest endpoint's credentials. Forward clients share one key and each source logs in as itself (a user of the
 * forward input); OTLP clients present a certificate of the ingest client CA, one per source. That CA signs client
 * certificates and nothing else: Elasticsearch trusts only the platform CA, so none of them opens a node's transport
 * port. The endpoint's own certificate comes from the platform CA, which every client already trusts.
 */

/** The endpoint's certificate is a server's; a source's certificate a client's. */
export const INGEST_SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"];
export const INGEST_CLIENT_USES = ["digital_signature", "key_encipherment", "client_auth"];

/** The compose service clients on the web host's own network would name. */
export const INGEST_SERVICE_NAME = "ingest";

/** Where the web bundle keeps them (hosts/web/ingest/fluent-bit.yaml mounts the folder on /fluent-bit/secrets). */
export const INGEST_FILES = {
  serverCert: `${PRIVATE_RENDERED_DIR}/ingest/server.crt`,
  serverKey: `${PRIVATE_RENDERED_DIR}/ingest/server.key`,
  clientCaCert: `${PRIVATE_RENDERED_DIR}/ingest/client-ca.crt`,
  forwardInput: `${PRIVATE_RENDERED_DIR}/ingest/forward-input.yaml`,
} as const;

/** What one source authenticates with; all of it secret but the certificate. */
export interface IngestSourceCredentials {
  password: string;
  clientCertificate: string;
  clientKey: string;
}

/** The endpoint's side: what the web bundle renders (PEMs and the forward input's secrets). */
export interface IngestServerPems {
  serverCert: string;
  serverKey: string;
  clientCaCert: string;
  sharedKey: string;
  /** Source name -> password: the forward input's users. */
  users: Record<string, string>;
}

export interface IngestCredentials {
  /** Secret: the forward protocol's shared key. */
  sharedKey: pulumi.Output<string>;
  /** Secret: every source's password, certificate and key, by source name. */
  sources: pulumi.Output<Record<string, IngestSourceCredentials>>;
  /** The endpoint's certificate and key, naming the web host's public and private addresses; call once. */
  issueServerPems(publicIp: pulumi.Output<string>, privateIp: pulumi.Output<string>): pulumi.Output<IngestServerPems>;
}

export function ingestCredentials(name: string, logSources: readonly string[], platformCa: CertificateAuthority): IngestCredentials {
  const sharedKey = pulumi.secret(new random.RandomPassword(`${name}-ingest-shared-key`, { length: 40, special: false }).result);
  const clientCa = certificateAuthority(name, undefined, { resource: "ingest-client-ca", title: "ingest client CA" });
  const sources = pulumi.secret(pulumi.all(Object.fromEntries(ingestSources(logSources).map((source) => {
    const resource = `${name}-ingest-${source}`;
    // Alphanumeric: the forward input splits `user password` at the first space, and clients read it from `.env`.
    const password = new random.RandomPassword(resource, { length: 32, special: false }).result;
    const certificate = issueCertificate(resource, name, clientCa, { commonName: source, uses: INGEST_CLIENT_USES });
    const credentials: pulumi.Output<IngestSourceCredentials> = pulumi.all([password, certificate.cert.certPem, certificate.key.privateKeyPemPkcs8])
      .apply(([pass, clientCertificate, clientKey]) => ({ password: pass, clientCertificate, clientKey }));
    return [source, credentials];
  })))) as pulumi.Output<Record<string, IngestSourceCredentials>>;
  return {
    sharedKey,
    sources,
    issueServerPems: (publicIp, privateIp) => {
      const server = issueCertificate(`${name}-ingest-server`, name, platformCa, {
        commonName: INGEST_SERVICE_NAME,
        dnsNames: [INGEST_SERVICE_NAME, "localhost"],
        // 127.0.0.1: the docker target's published ports (its public address too) and the SSH tunnel's local end.
        ipAddresses: pulumi.all([publicIp, privateIp]).apply((addresses) => [...new Set([...addresses, "127.0.0.1"])]),
        uses: INGEST_SERVER_USES,
      });
      return pulumi.secret(pulumi.all([server.cert.certPem, server.key.privateKeyPemPkcs8, clientCa.certPem, sharedKey, sources])
        .apply(([serverCert, serverKey, clientCaCert, key, all]) => ({
          serverCert,
          serverKey,
          clientCaCert,
          sharedKey: key,
          users: Object.fromEntries(Object.entries(all).map(([source, credentials]) => [source, credentials.password])),
        })));
    },
  };
}
