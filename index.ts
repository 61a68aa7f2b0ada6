import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { loadConfig } from "./components/config";
import { ROLES, PerRole, Role, perRole } from "./components/roles";
import { OPERATOR_UI_PORTS, PORTS, PortName } from "./components/ports";
import { SSH_USER } from "./components/host";
import { PlatformHost } from "./components/platform-host";
import { Hosts, awsHosts, dockerHosts } from "./components/targets";
import { Bundle } from "./components/bundle";
import { BUNDLE_SOURCES, BUNDLE_STARTS_AFTER, MemberFacts, OperatorUrls, bundleEnv, renderedFiles } from "./components/bundle-env";
import { CLUSTER_NODE_SERVICES, ClusterRole, allMembers, members } from "./components/topology";
import { PipelineCheck, PIPELINE_STAGE_ORDER } from "./components/pipeline-check";
import { loadAlertSecrets } from "./components/alertmanager";
import { MonitoringUser, generateMonitoringCredentials } from "./components/monitoring-auth";
import { CloudTrail } from "./components/cloudtrail";
import { buildCloudTrailFunction } from "./components/cloudtrail-function";
import { datasets } from "./components/naming";
import { certificateAuthority, nodeCertificate, tlsPems } from "./components/tls";
import { elasticsearchPasswords, ES_ACCOUNTS } from "./components/credentials";

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
  const hosts: Hosts = onAws?.hosts ?? dockerHosts(name, { config, bundleRoot, ...sshKey });
  const first = perRole((role) => hosts[role][0]);
  const roleMembers = members(config.memberCounts);

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
  // Elasticsearch security: one CA, a certificate per node (its host's private IP among its names), a password per
  // account. All kept in the stack state; keys and passwords are secrets.
  const esCa = certificateAuthority(name);
  const esPasswords = elasticsearchPasswords(name);
  const esNodeCerts = hosts.logging.map((host, index) =>
    nodeCertificate(name, esCa, { member: roleMembers.logging[index].name, privateIp: host.privateIp }));
  const hostTls = (role: Role, index: number) => tlsPems(esCa, role === "logging" ? esNodeCerts[index] : undefined);
  const memberFacts: pulumi.Output<PerRole<MemberFacts[]>> = pulumi.output(perRole((role) => roleMembers[role].map((member) => ({
    name: member.name,
    privateIp: hosts[role][member.index].privateIp,
    zone: hosts[role][member.index].zone,
  }))));
  const url = (host: PlatformHost, service: PortName, scheme = "http") => host.endpoint(service).apply((at) => `${scheme}://${at.replace(/:80$/, "")}`);
  const operatorUrls: pulumi.Output<OperatorUrls> = pulumi.output({
    kibana: url(first.logging, "kibana"),
    grafana: url(first.monitoring, "grafana"),
    prometheus: url(first.monitoring, "prometheus"),
    alertmanager: url(first.monitoring, "alertmanager"),
  });
  // Secret end to end: the receivers' URLs and password exist only inside this Output and the 0600 file it renders.
  const alertSecrets = loadAlertSecrets(config.alerting, new pulumi.Config());
  // Prometheus' and Alertmanager's basic auth: passwords and bcrypt salts kept in the state, secret end to end.
  const monitoringCredentials = generateMonitoringCredentials(name);

  const bundles = {} as PerRole<Bundle[]>;
  const bundleUps = (role: Role) => bundles[role].map((bundle) => bundle.up);
  // One level of dependencies: the roles with none come first.
  for (const role of [...ROLES].sort((a, b) => BUNDLE_STARTS_AFTER[a].length - BUNDLE_STARTS_AFTER[b].length)) {
    const startsAfter = BUNDLE_STARTS_AFTER[role].flatMap(bundleUps);
    const clustered = hosts[role].length > 1;
    // A cluster rolls: each member's node (re)starts once the previous member's gate has seen the cluster healthy
    // with it; after the last gate, the first member's one-off jobs, then the other members' remaining services.
    // Those later steps exist only once every member's bundle does, hence the promise.
    let rolled: (after: { lastGate: pulumi.Resource; firstUp: pulumi.Resource }) => void = () => undefined;
    const roll = new Promise<{ lastGate: pulumi.Resource; firstUp: pulumi.Resource }>((resolve) => (rolled = resolve));
    bundles[role] = [];
    for (const member of roleMembers[role]) {
      const host = hosts[role][member.index];
      const previous = bundles[role][member.index - 1];
      bundles[role].push(new Bundle(`${name}-${member.name}-bundle`, {
        role,
        connection: host.connection,
        hostId: host.instanceId,
        bundleRoot,
        folders: BUNDLE_SOURCES[role],
        env: pulumi.all([memberFacts, grafanaAdminPassword, kibanaEncryptionKeys, operatorUrls, monitoringCredentials, esPasswords])
          .apply(([facts, password, kibanaKeys, uiUrls, credentials, esPassword]) => bundleEnv(member, {
            ...config,
            members: facts,
            grafanaAdminPassword: password,
            kibanaEncryptionKeys: kibanaKeys,
            operatorUrls: uiUrls,
            monitoringGrafanaPassword: credentials.grafana.password,
            elasticsearchPasswords: esPassword,
          })),
        renderedFiles: pulumi.all([memberFacts, alertSecrets, monitoringCredentials, hostTls(role, member.index)])
          .apply(([facts, secrets, credentials, tls]) =>
            renderedFiles(role, { members: facts, alerting: config.alerting, alertSecrets: secrets, monitoringCredentials: credentials, tls })),
        dependsOn: clustered ? [host.ready] : [host.ready, ...startsAfter],
        ...(clustered ? {
          clusterNode: { service: CLUSTER_NODE_SERVICES[role as ClusterRole], after: previous?.gate ? [previous.gate] : [] },
          upAfter: roll.then(({ lastGate, firstUp }) => [lastGate, ...startsAfter, ...(member.index > 0 ? [firstUp] : [])]),
        } : {}),
      }));
    }
    rolled({ lastGate: bundles[role][bundles[role].length - 1].gate!, firstUp: bundles[role][0].up });
  }

  // The AWS API activity module beside the hosts; config refuses it on the docker target.
  if (config.cloudtrail && onAws) {
    new CloudTrail(`${name}-cloudtrail`, {
      network: onAws.network,
      kafkaBrokers: hosts.kafka.map((broker) => broker.privateIp),
      topic: datasets(config.environment).cloudtrailTopic,
      region: config.region,
      elasticsearchRetentionDays: config.elasticsearchRetentionDays,
      functionCode: new pulumi.asset.FileArchive(await buildCloudTrailFunction()),
      notifyAfter: bundleUps("kafka"),
    });
  }

  const pipelineCheck = new PipelineCheck(`${name}-pipeline-check`, {
    stages: PIPELINE_STAGE_ORDER.map((role) => ({ role, connection: first[role].connection, directory: bundles[role][0].directory })),
    bundleHashes: ROLES.flatMap((role) => bundles[role].map((bundle) => bundle.contentHash)),
    dependsOn: ROLES.flatMap(bundleUps),
  });

  return {
    environment: config.environment,
    gatewayUrl: url(first.web, "gateway"),
    kibanaUrl: operatorUrls.kibana,
    grafanaUrl: operatorUrls.grafana,
    prometheusUrl: operatorUrls.prometheus,
    alertmanagerUrl: operatorUrls.alertmanager,
    elasticsearchUrl: url(first.logging, "elasticsearch", "https"),
    // Public: what a client of Elasticsearch trusts (the verify step, curl --cacert).
    elasticsearchCaCertificate: esCa.certPem,
    kibanaUser: ES_ACCOUNTS.operator,
    kibanaPassword: esPasswords.operator,
    // The platform-check user's: read-only, what verify logs in as.
    elasticsearchCheckPassword: esPasswords.check,
    // By member name: the first member of each role under the role's own name, as with one host per role.
    hosts: Object.fromEntries(allMembers(config.memberCounts).map((member) => {
      const host = hosts[member.role][member.index];
      return [member.name, { publicIp: host.publicIp, privateIp: host.privateIp, sshPort: host.sshPort }];
    })),
    // What `npm run tunnel` forwards (127.0.0.1:<port> to the host's own 127.0.0.1:<port>); none on the docker
    // target, which publishes the UIs on 127.0.0.1 itself.
    tunnels: onAws ? [...new Set(OPERATOR_UI_PORTS.map((ui) => ui.role))].map((role) => ({
      member: role,
      host: first[role].publicIp,
      sshPort: first[role].sshPort,
      ports: OPERATOR_UI_PORTS.filter((ui) => ui.role === role).map((ui) => PORTS[ui.service]),
    })) : [],
    sshUser: SSH_USER,
    sshPrivateKey: sshKey.sshPrivateKey,
    grafanaAdminUser: "admin",
    grafanaAdminPassword,
    // One operator login for Prometheus and Alertmanager.
    monitoringOperatorUser: "operator" satisfies MonitoringUser,
    monitoringOperatorPassword: monitoringCredentials.apply((credentials) => pulumi.secret(credentials.operator.password)),
    pipelineCheck: pipelineCheck.stdout,
  };
};
