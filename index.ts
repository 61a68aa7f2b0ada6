import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { loadConfig, lookupDeployerIp, resolveOperatorCidrs } from "./components/config";
import { ROLES, PerRole } from "./components/roles";
import { PORTS } from "./components/ports";
import { Network } from "./components/network";
import { Host, SSH_USER } from "./components/host";
import { renderUserData } from "./components/user-data";
import { Bundle } from "./components/bundle";
import { BUNDLE_SOURCES, BUNDLE_STARTS_AFTER, bundleEnv } from "./components/bundle-env";
import { PipelineCheck, PIPELINE_STAGE_ORDER } from "./components/pipeline-check";
import { renderScrapeTargets } from "./components/scrape-targets";
import { ALERTMANAGER_CONFIG_PATH, loadAlertSecrets, renderAlertmanagerConfig } from "./components/alertmanager";

const perRole = <T>(make: (role: (typeof ROLES)[number]) => T): PerRole<T> =>
  Object.fromEntries(ROLES.map((role) => [role, make(role)])) as PerRole<T>;

export = async () => {
  const { config, sshPrivateKey: configuredPrivateKey } = loadConfig();
  const name = `${pulumi.getProject()}-${pulumi.getStack()}`;
  const bundleRoot = `/opt/${pulumi.getProject()}`;

  const network = new Network(name, {
    vpcCidr: config.vpcCidr,
    instanceTypes: Object.values(config.instanceTypes),
    operatorCidrs: await resolveOperatorCidrs(config.operatorCidrs, lookupDeployerIp),
  });

  const generatedKey = config.sshPublicKey ? undefined : new tls.PrivateKey(`${name}-ssh`, { algorithm: "ED25519" });
  const sshPrivateKey = pulumi.secret(configuredPrivateKey ?? generatedKey!.privateKeyOpenssh);
  const keyPair = new aws.ec2.KeyPair(`${name}-ssh`, { publicKey: config.sshPublicKey ?? generatedKey!.publicKeyOpenssh });

  const hosts = perRole((role) => new Host(`${name}-${role}`, {
    role,
    instanceType: config.instanceTypes[role],
    architecture: config.architectures[role],
    rootVolumeGiB: config.rootVolumeGiB[role],
    subnetId: network.subnet.id,
    securityGroupId: network.securityGroups[role].id,
    keyName: keyPair.keyName,
    userData: renderUserData(role, bundleRoot, SSH_USER),
    sshPrivateKey,
  }));

  // Alphanumeric: it travels through .env and compose interpolation untouched.
  const grafanaAdminPassword = pulumi.secret(new random.RandomPassword(`${name}-grafana-admin`, { length: 24, special: false }).result);
  const privateIps: pulumi.Output<PerRole<string>> = pulumi.output(perRole((role) => hosts[role].privateIp));
  const url = (host: Host, port: number) => pulumi.interpolate`http://${host.publicIp}:${port}`;
  const kibanaUrl = url(hosts.logging, PORTS.kibana);
  // Secret end to end: the receivers' URLs and password exist only inside this Output and the 0600 file it renders.
  const monitoringFiles = pulumi.all([privateIps, loadAlertSecrets(config.alerting, new pulumi.Config())])
    .apply(([ips, alertSecrets]) => ({
      ...renderScrapeTargets(ips),
      [ALERTMANAGER_CONFIG_PATH]: renderAlertmanagerConfig(config.alerting, alertSecrets),
    }));

  const bundles = {} as PerRole<Bundle>;
  // One level of dependencies: the roles with none come first.
  for (const role of [...ROLES].sort((a, b) => BUNDLE_STARTS_AFTER[a].length - BUNDLE_STARTS_AFTER[b].length)) {
    bundles[role] = new Bundle(`${name}-${role}-bundle`, {
      role,
      connection: hosts[role].connection,
      bundleRoot,
      folders: BUNDLE_SOURCES[role],
      env: pulumi.all([privateIps, grafanaAdminPassword, kibanaUrl]).apply(([ips, password, kibana]) => bundleEnv(role, {
        ...config,
        privateIps: ips,
        grafanaAdminPassword: password,
        kibanaUrl: kibana,
      })),
      renderedFiles: role === "monitoring" ? monitoringFiles : undefined,
      dependsOn: [hosts[role].ready, ...BUNDLE_STARTS_AFTER[role].map((before) => bundles[before].up)],
    });
  }

  const pipelineCheck = new PipelineCheck(`${name}-pipeline-check`, {
    stages: PIPELINE_STAGE_ORDER.map((role) => ({ role, connection: hosts[role].connection, directory: bundles[role].directory })),
    bundleHashes: ROLES.map((role) => bundles[role].contentHash),
    dependsOn: ROLES.map((role) => bundles[role].up),
  });

  return {
    environment: config.environment,
    gatewayUrl: pulumi.interpolate`http://${hosts.web.publicIp}`,
    kibanaUrl,
    grafanaUrl: url(hosts.monitoring, PORTS.grafana),
    prometheusUrl: url(hosts.monitoring, PORTS.prometheus),
    alertmanagerUrl: url(hosts.monitoring, PORTS.alertmanager),
    elasticsearchUrl: url(hosts.logging, PORTS.elasticsearch),
    hosts: perRole((role) => ({ publicIp: hosts[role].publicIp, privateIp: hosts[role].privateIp })),
    sshUser: SSH_USER,
    sshPrivateKey,
    grafanaAdminUser: "admin",
    grafanaAdminPassword,
    pipelineCheck: pipelineCheck.stdout,
  };
};
