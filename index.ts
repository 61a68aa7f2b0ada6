import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { loadConfig } from "./components/config";
import { ROLES, PerRole } from "./components/roles";
import { PortName } from "./components/ports";
import { SSH_USER } from "./components/host";
import { PlatformHost } from "./components/platform-host";
import { awsHosts, dockerHosts, perRole } from "./components/targets";
import { Bundle } from "./components/bundle";
import { BUNDLE_SOURCES, BUNDLE_STARTS_AFTER, bundleEnv, renderedFiles } from "./components/bundle-env";
import { PipelineCheck, PIPELINE_STAGE_ORDER } from "./components/pipeline-check";
import { loadAlertSecrets } from "./components/alertmanager";
import { CloudTrail } from "./components/cloudtrail";
import { buildCloudTrailFunction } from "./components/cloudtrail-function";
import { datasets } from "./components/naming";

export = async () => {
  const { config, sshPrivateKey: configuredPrivateKey } = loadConfig();
  const name = `${pulumi.getProject()}-${pulumi.getStack()}`;
  const bundleRoot = `/opt/${pulumi.getProject()}`;

  const generatedKey = config.sshPublicKey ? undefined : new tls.PrivateKey(`${name}-ssh`, { algorithm: "ED25519" });
  const sshKey = {
    sshPublicKey: config.sshPublicKey ?? generatedKey!.publicKeyOpenssh,
    sshPrivateKey: pulumi.secret(configuredPrivateKey ?? generatedKey!.privateKeyOpenssh),
  };
  // Only the hosts differ between targets; everything from the bundles up is the same code and the same files.
  const onAws = config.target === "aws" ? await awsHosts(name, { config, bundleRoot, ...sshKey }) : undefined;
  const hosts: PerRole<PlatformHost> = onAws?.hosts ?? dockerHosts(name, { config, bundleRoot, ...sshKey });

  // Alphanumeric: it travels through .env and compose interpolation untouched.
  const grafanaAdminPassword = pulumi.secret(new random.RandomPassword(`${name}-grafana-admin`, { length: 24, special: false }).result);
  // Kibana's minimum is 32 characters. A RandomPassword keeps its value in the stack state for as long as its name
  // and inputs stay the same, which these keys need (a new key makes encrypted saved objects unreadable).
  const kibanaKey = (purpose: string) => new random.RandomPassword(`${name}-kibana-${purpose}-key`, { length: 32, special: false }).result;
  const kibanaEncryptionKeys = pulumi.secret({
    encryptedSavedObjects: kibanaKey("saved-objects"),
    reporting: kibanaKey("reporting"),
    security: kibanaKey("security"),
  });
  const privateIps: pulumi.Output<PerRole<string>> = pulumi.output(perRole((role) => hosts[role].privateIp));
  const url = (host: PlatformHost, service: PortName) => host.endpoint(service).apply((at) => `http://${at.replace(/:80$/, "")}`);
  const kibanaUrl = url(hosts.logging, "kibana");
  // Secret end to end: the receivers' URLs and password exist only inside this Output and the 0600 file it renders.
  const alertSecrets = loadAlertSecrets(config.alerting, new pulumi.Config());

  const bundles = {} as PerRole<Bundle>;
  // One level of dependencies: the roles with none come first.
  for (const role of [...ROLES].sort((a, b) => BUNDLE_STARTS_AFTER[a].length - BUNDLE_STARTS_AFTER[b].length)) {
    bundles[role] = new Bundle(`${name}-${role}-bundle`, {
      role,
      connection: hosts[role].connection,
      hostId: hosts[role].instanceId,
      bundleRoot,
      folders: BUNDLE_SOURCES[role],
      env: pulumi.all([privateIps, grafanaAdminPassword, kibanaEncryptionKeys, kibanaUrl]).apply(([ips, password, kibanaKeys, kibana]) => bundleEnv(role, {
        ...config,
        privateIps: ips,
        grafanaAdminPassword: password,
        kibanaEncryptionKeys: kibanaKeys,
        kibanaUrl: kibana,
      })),
      renderedFiles: pulumi.all([privateIps, alertSecrets]).apply(([ips, secrets]) =>
        renderedFiles(role, { privateIps: ips, alerting: config.alerting, alertSecrets: secrets })),
      dependsOn: [hosts[role].ready, ...BUNDLE_STARTS_AFTER[role].map((before) => bundles[before].up)],
    });
  }

  // The AWS API activity module beside the hosts; config refuses it on the docker target.
  if (config.cloudtrail && onAws) {
    new CloudTrail(`${name}-cloudtrail`, {
      network: onAws.network,
      kafkaPrivateIp: hosts.kafka.privateIp,
      topic: datasets(config.environment).cloudtrailTopic,
      region: config.region,
      elasticsearchRetentionDays: config.elasticsearchRetentionDays,
      functionCode: new pulumi.asset.FileArchive(await buildCloudTrailFunction()),
      notifyAfter: [bundles.kafka.up],
    });
  }

  const pipelineCheck = new PipelineCheck(`${name}-pipeline-check`, {
    stages: PIPELINE_STAGE_ORDER.map((role) => ({ role, connection: hosts[role].connection, directory: bundles[role].directory })),
    bundleHashes: ROLES.map((role) => bundles[role].contentHash),
    dependsOn: ROLES.map((role) => bundles[role].up),
  });

  return {
    environment: config.environment,
    gatewayUrl: url(hosts.web, "gateway"),
    kibanaUrl,
    grafanaUrl: url(hosts.monitoring, "grafana"),
    prometheusUrl: url(hosts.monitoring, "prometheus"),
    alertmanagerUrl: url(hosts.monitoring, "alertmanager"),
    elasticsearchUrl: url(hosts.logging, "elasticsearch"),
    hosts: perRole((role) => ({ publicIp: hosts[role].publicIp, privateIp: hosts[role].privateIp, sshPort: hosts[role].sshPort })),
    sshUser: SSH_USER,
    sshPrivateKey: sshKey.sshPrivateKey,
    grafanaAdminUser: "admin",
    grafanaAdminPassword,
    pipelineCheck: pipelineCheck.stdout,
  };
};
