import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./components/config/load";
import { platformCredentials } from "./components/credentials/credentials";
import { ES_ACCOUNTS } from "./components/credentials/elasticsearch";
import { MonitoringUser } from "./components/credentials/monitoring";
import { createHosts } from "./components/targets/hosts";
import { checkLocalMachine } from "./components/targets/docker/preflight";
import { SSH_USER } from "./components/targets/platform-host";
import { ingestEndpoint, operatorTunnels, operatorUrls, serviceUrl } from "./components/targets/operator-access";
import { bundleImages } from "./components/bundles/images";
import { bundleInputs } from "./components/bundles/inputs";
import { BundleGates, HostChangeGate, RoleDeployment } from "./components/bundles/deployment";
import { BUNDLE_STARTS_AFTER, ROLES_IN_START_ORDER } from "./components/bundles/sources";
import { PipelineCheck, PIPELINE_STAGE_ORDER } from "./components/bundles/pipeline-check";
import { CloudTrail } from "./components/cloudtrail/cloudtrail";
import { buildCloudTrailFunction } from "./components/cloudtrail/function-build";
import { datasets } from "./components/platform/naming";
import { PerRole, ROLES, perRole } from "./components/platform/roles";
import { allMembers } from "./components/platform/topology";

export = async () => {
  const { config, sshPrivateKey } = loadConfig();
  const name = `${pulumi.getProject()}-${pulumi.getStack()}`;
  const bundleRoot = `/opt/${pulumi.getProject()}`;
  // target docker: this machine, its Docker engine and the loopback ports, checked before anything is registered.
  const localEngine = config.target === "docker" ? await checkLocalMachine(name, config) : undefined;

  const credentials = platformCredentials(name, { config, sshPrivateKey });
  // A cluster member's host changes only once the previous member is back in a healthy cluster: after its bundle gate
  // where the addresses are known beforehand, else after its gate run from the bundle its host has.
  const bundleGates = new BundleGates();
  const { hosts, network } = await createHosts(name, {
    config, bundleRoot, ...credentials.ssh, localEngine,
    changesAfter: (previous, addressesKnown) => addressesKnown
      ? [bundleGates.of(previous.member)]
      : [new HostChangeGate(`${name}-${previous.member.name}-host-change`, { ...previous, bundleRoot }).gate],
    bundleImages: config.target === "docker" ? perRole((role) => bundleImages(role)) : undefined,
  });
  const first = perRole((role) => hosts[role][0]);
  const uiUrls = operatorUrls(first);

  // One deployment per role, each after the roles it starts after; a cluster's members roll one at a time.
  const memberInputs = bundleInputs({ config, hosts, credentials, operatorUrls: uiUrls });
  const deployments = {} as PerRole<RoleDeployment>;
  for (const role of ROLES_IN_START_ORDER) {
    deployments[role] = new RoleDeployment(`${name}-${role}`, {
      role,
      members: memberInputs[role],
      bundleRoot,
      startsAfter: BUNDLE_STARTS_AFTER[role].map((before) => deployments[before]),
      platformName: name,
    });
    bundleGates.settle(role, deployments[role].gates);
  }

  // The AWS API activity module beside the hosts; config refuses it on the docker target.
  const cloudtrail = config.cloudtrail && network ? new CloudTrail(`${name}-cloudtrail`, {
      network,
      kafkaBrokers: hosts.kafka.map((broker) => broker.privateIp),
      topic: datasets(config.environment).cloudtrailTopic,
      region: config.region,
      elasticsearchRetentionDays: config.elasticsearchRetentionDays,
      functionCode: new pulumi.asset.FileArchive(await buildCloudTrailFunction()),
      notifyAfter: deployments.kafka.ups,
      // Its failure alarm mails the alert address; Alertmanager's receivers are out of reach of CloudWatch.
      alarmEmail: config.alerting.email?.to,
    }) : undefined;

  const pipelineCheck = new PipelineCheck(`${name}-pipeline-check`, {
    stages: PIPELINE_STAGE_ORDER.map((role) => ({ role, connection: first[role].connection, directory: deployments[role].directory })),
    bundleHashes: ROLES.flatMap((role) => deployments[role].contentHashes),
    dependsOn: ROLES.flatMap((role) => deployments[role].ups),
  });

  return {
    environment: config.environment,
    gatewayUrl: serviceUrl(first.web, "gateway"),
    kibanaUrl: uiUrls.kibana,
    grafanaUrl: uiUrls.grafana,
    prometheusUrl: uiUrls.prometheus,
    alertmanagerUrl: uiUrls.alertmanager,
    elasticsearchUrl: serviceUrl(first.logging, "elasticsearch", "https"),
    // Public: what a client of Elasticsearch trusts (the verify step, curl --cacert).
    elasticsearchCaCertificate: credentials.elasticsearchCa.certPem,
    kibanaUser: ES_ACCOUNTS.operator,
    kibanaPassword: credentials.elasticsearchPasswords.operator,
    // The platform-check user's: read-only, what verify logs in as.
    elasticsearchCheckPassword: credentials.elasticsearchPasswords.check,
    // By member name: the first member of each role under the role's own name, as with one host per role.
    hosts: Object.fromEntries(allMembers(config.memberCounts).map((member) => {
      const host = hosts[member.role][member.index];
      return [member.name, { publicIp: host.publicIp, privateIp: host.privateIp, sshPort: host.sshPort }];
    })),
    // What `npm run tunnel` forwards; none on the docker target, which publishes the UIs on 127.0.0.1 itself.
    tunnels: config.target === "aws" ? operatorTunnels(first, config.localPorts, config.localIngestForwardPort) : [],
    // Where the users' services send their logs (README "Send your own logs"); what they authenticate with is secret.
    ingest: ingestEndpoint(first.web, config, credentials.elasticsearchCa.certPem),
    ingestCredentials: pulumi.secret(pulumi.all([credentials.ingest.sharedKey, credentials.ingest.sources])
      .apply(([sharedKey, sources]) => ({ sharedKey, sources }))),
    sshUser: SSH_USER,
    sshPrivateKey: credentials.ssh.sshPrivateKey,
    grafanaAdminUser: "admin",
    grafanaAdminPassword: credentials.grafanaAdminPassword,
    // One operator login for Prometheus and Alertmanager.
    monitoringOperatorUser: "operator" satisfies MonitoringUser,
    monitoringOperatorPassword: credentials.monitoring.apply((monitoring) => pulumi.secret(monitoring.operator.password)),
    pipelineCheck: pipelineCheck.stdout,
    // What `npm run cloudtrail:replay` reads; absent with the module off.
    ...(cloudtrail ? {
      cloudtrail: {
        region: cloudtrail.region,
        functionName: cloudtrail.functionName,
        failureQueueUrl: cloudtrail.failureQueueUrl,
        alarmTopicArn: cloudtrail.alarmTopicArn,
      },
    } : {}),
  };
};
