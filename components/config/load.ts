import * as pulumi from "@pulumi/pulumi";
import * as ipaddr from "ipaddr.js";
import { PlatformConfig } from "./types";
import { parseConfig } from "./parse";

/** The stack's config, validated, plus the SSH private key as a secret when one is configured. */
export function loadConfig(): { config: PlatformConfig; sshPrivateKey?: pulumi.Output<string> } {
  const stackConfig = new pulumi.Config();
  const sshPrivateKey = stackConfig.getSecret("sshPrivateKey");
  const config = parseConfig({
    get: (key) => (key.startsWith("aws:") ? new pulumi.Config("aws").get(key.slice(4)) : stackConfig.get(key)),
    hasSshPrivateKey: sshPrivateKey !== undefined,
    stackName: pulumi.getStack(),
    namespace: pulumi.getProject(),
  });
  return { config, sshPrivateKey };
}

/** Operator CIDRs from config, or the deployer's public IP /32 when none are configured. */
export async function resolveOperatorCidrs(configured: string[], lookupPublicIp: () => Promise<string>): Promise<string[]> {
  if (configured.length > 0) return configured;
  const ip = (await lookupPublicIp()).trim();
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) {
    throw new Error(`Could not use "${ip}" as your public IP; set operatorCidrs, e.g. pulumi config set --path 'operatorCidrs[0]' 203.0.113.7/32`);
  }
  return [`${ip}/32`];
}

/** Asks AWS's echo service for the deployer's public IPv4 address. */
export async function lookupDeployerIp(): Promise<string> {
  try {
    const response = await fetch("https://checkip.amazonaws.com", { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.text();
  } catch (error) {
    throw new Error(`Could not look up your public IP (${String(error)}); set operatorCidrs in the stack config instead.`);
  }
}
