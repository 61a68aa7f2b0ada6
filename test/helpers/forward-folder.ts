import { FolderOutputs } from "../../user-forwarder/index";

export const FOLDER_CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";

/**
 * The stack outputs a forwarder folder is made of (`npm run forwarder:folder`), as the program exports them: on aws the
 * web host's public address; sources `platform` (the stack's own), `team-a` and `team-b`. Passwords carry a `$`.
 */
export function folderOutputs(address = "203.0.113.11", forwardPort = 24224): FolderOutputs {
  const source = (name: string) => ({ password: `${name}-pa$$word`, clientCertificate: "-----BEGIN CERTIFICATE-----\nx", clientKey: "-----BEGIN PRIVATE KEY-----\nx" });
  return {
    ingest: {
      address, privateAddress: "10.42.1.11", forwardPort, otlpPort: 4318, localForwardPort: 24224, caCertificate: FOLDER_CA,
      sources: ["platform", "team-a", "team-b"], allowedCidrs: ["198.51.100.0/24"],
    },
    ingestCredentials: { sharedKey: "the-shared-key", sources: { platform: source("platform"), "team-a": source("team-a"), "team-b": source("team-b") } },
  };
}
