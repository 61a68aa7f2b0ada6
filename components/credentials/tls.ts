import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { PRIVATE_RENDERED_DIR } from "../platform/rendered-paths";
import { CLUSTER_NODE_SERVICES } from "../platform/topology";

/**
 * The platform's own certificate authority and one certificate per Elasticsearch node, for HTTP and transport alike.
 * Everything is made by the program (@pulumi/tls) and kept in the stack state: no cert tool on the hosts, and a node
 * replaced keeps trusting the others. Private keys are Pulumi secrets end to end (the provider marks them so; the
 * rendered key files go under `secrets/`, which the bundle writes with mode 0600).
 */

const HOURS_PER_DAY = 24;
/** RSA 2048, the default of Elastic's own elasticsearch-certutil: every client here (Kibana, Fluent Bit, Go, curl) takes it. */
export const KEY_ALGORITHM = "RSA";
export const RSA_BITS = 2048;
/**
 * The CA lives 10 years and is re-made by the first `pulumi up` in its last year (early renewal): a new CA replaces
 * every node certificate and every client's CA file in the same deploy.
 */
export const CA_VALIDITY_HOURS = 10 * 365 * HOURS_PER_DAY;
export const CA_EARLY_RENEWAL_HOURS = 365 * HOURS_PER_DAY;
/** A node certificate lives 2 years and is re-made by any deploy in its last 90 days. */
export const NODE_VALIDITY_HOURS = 2 * 365 * HOURS_PER_DAY;
export const NODE_EARLY_RENEWAL_HOURS = 90 * HOURS_PER_DAY;

/** The compose service name clients on the node's own host connect to: the logging bundle's node. */
export const ES_SERVICE_NAME = CLUSTER_NODE_SERVICES.logging;

/** A CA signs certificates and nothing else. */
export const CA_USES = ["cert_signing", "crl_signing"];
/** A node serves HTTP and transport and is the client of its peers on transport, with the same certificate. */
export const NODE_USES = ["digital_signature", "key_encipherment", "server_auth", "client_auth"];

/** Where the rendered files land in the logging bundle. The CA certificate is public, the node's key is not. */
export const TLS_FILES = {
  caCert: "tls/ca.crt",
  nodeCert: `${PRIVATE_RENDERED_DIR}/tls/node.crt`,
  nodeKey: `${PRIVATE_RENDERED_DIR}/tls/node.key`,
} as const;

export interface CertificateAuthority {
  key: tls.PrivateKey;
  cert: tls.SelfSignedCert;
  /** The CA certificate (PEM), public: every client of Elasticsearch trusts it. */
  certPem: pulumi.Output<string>;
}

/** A CA's resource name suffix and common name: the Elasticsearch CA's are the ones it always had. */
export interface CaPurpose {
  resource: string;
  title: string;
}
const ES_CA: CaPurpose = { resource: "es-ca", title: "Elasticsearch CA" };

export function certificateAuthority(name: string, opts?: pulumi.CustomResourceOptions, purpose: CaPurpose = ES_CA): CertificateAuthority {
  const key = new tls.PrivateKey(`${name}-${purpose.resource}`, { algorithm: KEY_ALGORITHM, rsaBits: RSA_BITS }, opts);
  const cert = new tls.SelfSignedCert(`${name}-${purpose.resource}`, {
    privateKeyPem: key.privateKeyPem,
    subject: { commonName: `${name} ${purpose.title}`, organization: name },
    isCaCertificate: true,
    setSubjectKeyId: true,
    validityPeriodHours: CA_VALIDITY_HOURS,
    earlyRenewalHours: CA_EARLY_RENEWAL_HOURS,
    allowedUses: CA_USES,
  }, opts);
  return { key, cert, certPem: cert.certPem };
}

/** An Elasticsearch node as its certificate names it: member name (`logging`, `logging-2`, ...) and private IP. */
export interface EsNodeIdentity {
  member: string;
  privateIp: pulumi.Input<string>;
}

/** The names a node answers to: its member name, the compose service name, and loopback. */
export const nodeDnsNames = (member: string): string[] => [member, ES_SERVICE_NAME, "localhost"];
export const nodeIpAddresses = (privateIp: pulumi.Input<string>): pulumi.Input<string>[] => [privateIp, "127.0.0.1"];

export interface NodeCertificate {
  key: tls.PrivateKey;
  request: tls.CertRequest;
  cert: tls.LocallySignedCert;
}

/** What a certificate names and may be used for. */
export interface CertificateSubject {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: pulumi.Input<pulumi.Input<string>[]>;
  uses: string[];
}

/** A key and a certificate signed by `ca`, under one resource name; renewed like a node's. */
export function issueCertificate(resource: string, organization: string, ca: CertificateAuthority, subject: CertificateSubject, opts?: pulumi.CustomResourceOptions): NodeCertificate {
  const key = new tls.PrivateKey(resource, { algorithm: KEY_ALGORITHM, rsaBits: RSA_BITS }, opts);
  const request = new tls.CertRequest(resource, {
    privateKeyPem: key.privateKeyPem,
    subject: { commonName: subject.commonName, organization },
    dnsNames: subject.dnsNames,
    ipAddresses: subject.ipAddresses,
  }, opts);
  const cert = new tls.LocallySignedCert(resource, {
    certRequestPem: request.certRequestPem,
    caPrivateKeyPem: ca.key.privateKeyPem,
    caCertPem: ca.cert.certPem,
    validityPeriodHours: NODE_VALIDITY_HOURS,
    earlyRenewalHours: NODE_EARLY_RENEWAL_HOURS,
    allowedUses: subject.uses,
  }, opts);
  return { key, request, cert };
}

export function nodeCertificate(name: string, ca: CertificateAuthority, node: EsNodeIdentity, opts?: pulumi.CustomResourceOptions): NodeCertificate {
  return issueCertificate(`${name}-es-${node.member}`, name, ca, {
    commonName: node.member,
    dnsNames: nodeDnsNames(node.member),
    ipAddresses: nodeIpAddresses(node.privateIp),
    uses: NODE_USES,
  }, opts);
}

/** What a host's bundle gets of the certificates (PEM): the CA, and on an Elasticsearch node its own pair. */
export interface TlsPems {
  caCert: string;
  node?: { cert: string; key: string };
}

/**
 * The PEMs of one host: the CA, and the node's certificate and key when it is an Elasticsearch node. The key is
 * PKCS#8 (`BEGIN PRIVATE KEY`), which Elasticsearch's PEM reader takes for RSA keys; it stays a secret here whatever
 * the provider's marking.
 */
export function tlsPems(ca: CertificateAuthority, node?: NodeCertificate): pulumi.Output<TlsPems> {
  return pulumi.all([ca.certPem, node?.cert.certPem, node ? pulumi.secret(node.key.privateKeyPemPkcs8) : undefined])
    .apply(([caCert, cert, key]) => (cert !== undefined && key !== undefined ? { caCert, node: { cert, key } } : { caCert }));
}

/** The certificate files of a bundle (path -> PEM): the CA always, the node's pair where there is one. */
export function tlsFiles(pems: TlsPems): Record<string, string> {
  return {
    [TLS_FILES.caCert]: pems.caCert,
    ...(pems.node ? { [TLS_FILES.nodeCert]: pems.node.cert, [TLS_FILES.nodeKey]: pems.node.key } : {}),
  };
}
