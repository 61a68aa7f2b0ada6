import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config/types";
import { PlatformCredentials } from "../credentials/credentials";
import { PerRole, perRole } from "../platform/roles";
import { MemberFacts, members } from "../platform/topology";
import { Hosts } from "../targets/platform-host";
import { OperatorUrls } from "../targets/operator-access";
import { MemberBundleInputs } from "./deployment";
import { bundleEnv } from "./env";
import { renderedFiles } from "./rendered-files";

export interface BundleInputsArgs {
  config: PlatformConfig;
  hosts: Hosts;
  credentials: PlatformCredentials;
  operatorUrls: pulumi.Output<OperatorUrls>;
}

/**
 * What each member's bundle gets: its host, its `.env` and its rendered files, from the config, what the hosts'
 * target assigned (addresses, zones, the operators' URLs) and the credentials. Secret wherever a credential is in it.
 */
export function bundleInputs(args: BundleInputsArgs): PerRole<MemberBundleInputs[]> {
  const { config, hosts, credentials } = args;
  const roleMembers = members(config.memberCounts);
  const memberFacts: pulumi.Output<PerRole<MemberFacts[]>> = pulumi.output(perRole((role) => roleMembers[role].map((member) => ({
    name: member.name,
    privateIp: hosts[role][member.index].privateIp,
    zone: hosts[role][member.index].zone,
  }))));
  return perRole((role) => roleMembers[role].map((member) => {
    const host = hosts[role][member.index];
    return {
      member,
      host,
      env: pulumi.all([
        memberFacts, credentials.grafanaAdminPassword, credentials.kibanaEncryptionKeys, args.operatorUrls, credentials.monitoring,
        credentials.elasticsearchPasswords,
      ]).apply(([facts, password, kibanaKeys, urls, monitoring, esPasswords]) => bundleEnv(member, {
        ...config,
        members: facts,
        grafanaAdminPassword: password,
        kibanaEncryptionKeys: kibanaKeys,
        operatorUrls: urls,
        monitoringGrafanaPassword: monitoring.grafana.password,
        elasticsearchPasswords: esPasswords,
      })),
      renderedFiles: pulumi.all([
        memberFacts, credentials.alertSecrets, credentials.monitoring, credentials.issueHostTls(member, host.privateIp),
        role === "web" ? credentials.ingest.issueServerPems(host.publicIp, host.privateIp) : undefined,
      ]).apply(([facts, secrets, monitoring, tls, ingest]) =>
        renderedFiles(role, { members: facts, alerting: config.alerting, alertSecrets: secrets, monitoringCredentials: monitoring, tls, ingest })),
    };
  }));
}
