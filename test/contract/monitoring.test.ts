import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../components/platform/repo";
import { INDEX_PREFIXES, KAFKA_CONSUMER_GROUP } from "../../components/platform/naming";
import { PORTS } from "../../components/platform/ports";
import { ROLES, Role } from "../../components/platform/roles";
import { allMembers, CLUSTER_SIZES, memberName } from "../../components/platform/topology";
import { FILE_SD_TARGETS, renderScrapeTargets, SCRAPE_TARGETS_DIR } from "../../components/bundles/scrape-targets";
import { ALERTMANAGER_CONFIG_PATH } from "../../components/bundles/alertmanager-config";
import { mountedFilesHashes } from "../../components/bundles/files";
import { renderedFiles } from "../../components/bundles/rendered-files";
import { BUNDLE_SOURCES } from "../../components/bundles/sources";
import { CONTAINER_SECRETS_DIR, SECRET_FILES, WEB_USERS, monitoringSecretsDir, renderMonitoringSecrets } from "../../components/credentials/monitoring";
import { ES_ACCOUNTS, passwordVariable } from "../../components/credentials/elasticsearch";
import { TLS_FILES } from "../../components/credentials/tls";
import { parse } from "yaml";
import { ComposeService, dependsOn, loadCompose, publishedPorts, repoPathOf } from "../helpers/compose";
import { mappedFields } from "../helpers/index-template";
import { kqlFields, loadSavedObjects } from "../helpers/kibana-objects";
import { clusterFacts, SAMPLE_FACTS, SAMPLE_MONITORING_CREDENTIALS, sampleEnv, sampleIpOf } from "../helpers/sample-facts";
import {
  Dashboard, DatasourceRef, fixtureLines, fluentBitConfigs, GRAFANA_PROVISIONING_DIR, loadAlertRules,
  loadDashboardProviders, loadDashboards, loadDatasources, loadMetricFixtures, loadPrometheusConfig, MONITORING_DIR,
  parseLabelValues, prometheusTargets, readYaml, selectors, substituteVariables,
} from "../helpers/monitoring";

const compose = loadCompose("monitoring");
const grafanaEnv = (compose.services.grafana.environment ?? {}) as Record<string, unknown>;
const promConfig = loadPrometheusConfig();
const datasources = loadDatasources();
const dashboards = loadDashboards();
const rules = loadAlertRules();
const fixtures = loadMetricFixtures();
const configuredJobs = new Set(promConfig.scrape_configs.map((c) => c.job_name));

let aliasesRead: Set<string> | undefined;
/**
 * Plugin aliases of the Fluent Bit configs (every host's forwarder, the aggregator, the web host's ingest endpoint),
 * which become the `name` label of Fluent Bit's metrics.
 */
function fluentBitAliases(): Set<string> {
  if (aliasesRead) return aliasesRead;
  const aliases = new Set<string>();
  for (const file of fluentBitConfigs()) {
    const doc = readYaml<{ pipeline?: Record<string, { alias?: string }[]> }>(path.join(REPO_ROOT, file));
    for (const plugin of [...(doc.pipeline?.inputs ?? []), ...(doc.pipeline?.outputs ?? [])]) {
      if (plugin.alias) aliases.add(plugin.alias);
    }
  }
  aliasesRead = aliases;
  return aliases;
}

/** The legend of a Prometheus query: `{{label}}` placeholders Grafana fills from the series' labels. */
const legendOf = (target: object): string => (target as { legendFormat?: string }).legendFormat ?? "";

/** Every member name a platform of the largest clusters can have, and the roles: the values of the target labels. */
const MEMBER_NAMES = new Set(allMembers({ logging: CLUSTER_SIZES.max, web: 1, kafka: CLUSTER_SIZES.max, monitoring: 1 }).map((m) => m.name));

/** Every metric and pinned label an expression selects must exist: in a configured job's fixture, alias, group. */
function checkExpression(expr: string, where: string, problems: string[]) {
  const aliases = fluentBitAliases();
  for (const { metric, equals } of selectors(expr)) {
    if (equals.role !== undefined && !(ROLES as readonly string[]).includes(equals.role)) problems.push(`${where}: no role ${equals.role}`);
    if (equals.member !== undefined && !MEMBER_NAMES.has(equals.member)) problems.push(`${where}: no member ${equals.member}`);
    const jobs = equals.job ? [equals.job] : [...configuredJobs];
    if (equals.job && !configuredJobs.has(equals.job)) problems.push(`${where}: job "${equals.job}" is not scraped`);
    const known = jobs.some((job) => fixtures.get(job)?.has(metric)) || fixtures.get("*")?.has(metric);
    if (!known) problems.push(`${where}: ${metric} is not produced by ${equals.job ? `job ${equals.job}` : "any scraped job"}`);
    if (equals.name !== undefined && !aliases.has(equals.name)) problems.push(`${where}: no Fluent Bit plugin has alias ${equals.name}`);
    if (equals.consumergroup !== undefined && equals.consumergroup !== KAFKA_CONSUMER_GROUP) {
      problems.push(`${where}: consumer group ${equals.consumergroup} is not ${KAFKA_CONSUMER_GROUP}`);
    }
  }
}

/**
 * Every `datasource` reference anywhere in a dashboard (panels, targets, variables, annotations). An alert list's
 * `options.datasource` is a filter by datasource name, not a reference; its own test checks it.
 */
function datasourceRefs(node: unknown, at = "$"): { at: string; ref: unknown }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => datasourceRefs(item, `${at}[${i}]`));
  if (node === null || typeof node !== "object") return [];
  return Object.entries(node).flatMap(([key, value]) => [
    ...(key === "datasource" && !at.endsWith(".options") ? [{ at: `${at}.datasource`, ref: value }] : []),
    ...datasourceRefs(value, `${at}.${key}`),
  ]);
}

describe("monitoring: rendered scrape targets (components/bundles/scrape-targets.ts)", () => {
  const files = renderScrapeTargets(SAMPLE_FACTS.members);
  const parse = (job: string) => JSON.parse(files[`${SCRAPE_TARGETS_DIR}/${job}.json`]) as { targets: string[]; labels: Record<string, string> }[];

  it("lists node_exporter and the forwarder on all four hosts and each pipeline exporter and the ingest endpoint on its host, every target with its role", () => {
    const ip = (role: Role) => sampleIpOf(role);
    assert.deepEqual(parse("node"), ROLES.map((role) => ({ targets: [`${ip(role)}:${PORTS.nodeExporter}`], labels: { role, member: role } })));
    assert.deepEqual(parse("fluent-bit-forwarder"),
      ROLES.map((role) => ({ targets: [`${ip(role)}:${PORTS.forwarderMetrics}`], labels: { role, member: role, component: "forwarder" } })));
    assert.deepEqual(parse("fluent-bit-aggregator"),
      [{ targets: [`${ip("logging")}:${PORTS.aggregatorMetrics}`], labels: { role: "logging", member: "logging", component: "aggregator" } }]);
    assert.deepEqual(parse("kafka-exporter"), [{ targets: [`${ip("kafka")}:${PORTS.kafkaExporter}`], labels: { role: "kafka", member: "kafka" } }]);
    assert.deepEqual(parse("elasticsearch-exporter"),
      [{ targets: [`${ip("logging")}:${PORTS.elasticsearchExporter}`], labels: { role: "logging", member: "logging" } }]);
    assert.deepEqual(parse("ingest"), [{ targets: [`${ip("web")}:${PORTS.ingestMetrics}`], labels: { role: "web", member: "web" } }]);
    assert.deepEqual(Object.keys(files).sort(), Object.keys(FILE_SD_TARGETS).map((file) => `${SCRAPE_TARGETS_DIR}/${file}.json`).sort());
  });

  it("with 3 logging and 3 kafka members: node_exporter, forwarder and aggregator on every member, each exporter once on its first, the ingest endpoint on the web host", () => {
    const facts = clusterFacts({ logging: 3, kafka: 3 });
    const cluster = renderScrapeTargets(facts.members);
    const groups = (job: string) => JSON.parse(cluster[`${SCRAPE_TARGETS_DIR}/${job}.json`]) as { targets: string[]; labels: Record<string, string> }[];
    const at = (role: Role, index: number, port: number) => ({
      targets: [`${sampleIpOf(role, index, facts)}:${port}`],
      labels: { role, member: facts.members[role][index].name },
    });
    assert.deepEqual(groups("node").map((g) => g.labels.member),
      ["logging", "logging-2", "logging-3", "web", "kafka", "kafka-2", "kafka-3", "monitoring"]);
    assert.deepEqual(groups("node").slice(0, 3), [0, 1, 2].map((i) => at("logging", i, PORTS.nodeExporter)));
    assert.deepEqual(groups("fluent-bit-forwarder").map((g) => g.labels.member), groups("node").map((g) => g.labels.member));
    const withComponent = (group: ReturnType<typeof at>, component: string) => ({ ...group, labels: { ...group.labels, component } });
    assert.deepEqual(groups("fluent-bit-forwarder").slice(4, 7), [0, 1, 2].map((i) => withComponent(at("kafka", i, PORTS.forwarderMetrics), "forwarder")));
    assert.deepEqual(groups("fluent-bit-aggregator"), [0, 1, 2].map((i) => withComponent(at("logging", i, PORTS.aggregatorMetrics), "aggregator")));
    assert.deepEqual(groups("kafka-exporter"), [at("kafka", 0, PORTS.kafkaExporter)]);
    assert.deepEqual(groups("elasticsearch-exporter"), [at("logging", 0, PORTS.elasticsearchExporter)]);
    assert.deepEqual(groups("ingest"), [at("web", 0, PORTS.ingestMetrics)]);
    const addresses = groups("node").flatMap((g) => g.targets);
    assert.equal(new Set(addresses).size, addresses.length, "every member has its own address");
  });

  it("writes exactly the files prometheus.yml reads, each for the job FILE_SD_TARGETS names", () => {
    const read = promConfig.scrape_configs.flatMap((c) => (c.file_sd_configs ?? []).flatMap((sd) =>
      sd.files.map((file) => ({ job: c.job_name, file: path.posix.join("prometheus", file) }))));
    assert.deepEqual(read.map((r) => r.file).sort(), Object.keys(files).sort());
    for (const { job, file } of read) {
      const [name, target] = Object.entries(FILE_SD_TARGETS).find(([name]) => file === `${SCRAPE_TARGETS_DIR}/${name}.json`)!;
      assert.equal(job, target.job, name);
    }
  });

  it("rejects an address that is not a private IPv4 address string", () => {
    assert.throws(() => renderScrapeTargets({ ...SAMPLE_FACTS.members, kafka: [{ name: "kafka", privateIp: "kafka.internal", zone: "eu-west-1a" }] }), /kafka host/);
  });
});

describe("monitoring: prometheus.yml", () => {
  it("scrapes Prometheus and Grafana by compose service name, Fluent Bit at its v2 Prometheus endpoint", () => {
    const job = (name: string) => promConfig.scrape_configs.find((c) => c.job_name === name);
    // The monitoring host is one member, of its role's name; the alerts name targets by `member`.
    const labels = { role: "monitoring", member: memberName("monitoring", 0) };
    assert.deepEqual(job("prometheus")?.static_configs, [{ targets: [`localhost:${PORTS.prometheus}`], labels }]);
    assert.deepEqual(job("grafana")?.static_configs, [{ targets: [`grafana:${PORTS.grafana}`], labels }]);
    assert.ok(compose.services.grafana, "the grafana target is the compose service of that name");
    assert.equal(job("fluent-bit")?.metrics_path, "/api/v2/metrics/prometheus");
    assert.equal(job("ingest")?.metrics_path, "/api/v2/metrics/prometheus");
  });

  it("has a metric fixture for every scraped job", () => {
    for (const job of configuredJobs) assert.ok(fixtures.has(job) || job === "grafana", `no metric list for job ${job}`);
  });
});

describe("monitoring: alert rules", () => {
  const required = [
    "TargetDown", "HostDiskSpaceLow", "HostHighCpu", "HostMemoryPressure", "ElasticsearchHeapHigh",
    "ElasticsearchClusterRed", "ElasticsearchClusterYellow", "KafkaConsumerLagGrowing", "FluentBitOutputErrors",
    "FluentBitRecordsLost", "GatewayLogPipelineStalled", "ElasticsearchUnreachable", "KafkaBrokerDown",
    "ContainerLogPipelineStalled", "ContainerRestarting", "ElasticsearchNodeMissing", "KafkaBrokerMissing",
    "KafkaUnderReplicatedPartitions", "IngestEndpointRefusing", "IngestEndpointPaused", "AppsLogPipelineStalled",
  ];
  const rule = (name: string) => rules.find((r) => r.alert === name) as (typeof rules)[number];

  it("include every alert the platform needs, once, each with a severity, a summary and a runbook hint", () => {
    const names = rules.map((r) => r.alert);
    assert.deepEqual([...names].sort(), [...new Set(names)].sort(), "alert names are unique");
    for (const name of required) assert.ok(names.includes(name), `missing alert ${name}`);
    for (const rule of rules) {
      assert.match(rule.labels?.severity ?? "", /^(warning|critical)$/, `${rule.alert} severity`);
      assert.ok(rule.annotations?.summary, `${rule.alert} has no summary`);
      assert.ok(rule.annotations?.runbook, `${rule.alert} has no runbook hint`);
    }
  });

  it("query only metrics the configured exporters produce, with real plugin aliases and consumer group", () => {
    const problems: string[] = [];
    for (const rule of rules) checkExpression(rule.expr, `alert ${rule.alert}`, problems);
    assert.deepEqual(problems, []);
  });

  it("count a flush that will be retried (retries) as failing, not only the ones given up (errors)", () => {
    const metrics = selectors(rule("FluentBitOutputErrors").expr).map((s) => s.metric).sort();
    assert.deepEqual(metrics, ["fluentbit_output_errors_total", "fluentbit_output_retries_total"]);
  });

  it("see Elasticsearch down through the exporter's own collector success, which outlives the health series", () => {
    assert.deepEqual(selectors(rule("ElasticsearchUnreachable").expr).map((s) => s.metric), ["elasticsearch_scrape_success"]);
  });

  it("see the broker down from the Kafka exporter's scrape, broker count or missing partition offsets", () => {
    const found = selectors(rule("KafkaBrokerDown").expr).map((s) => `${s.metric}${s.equals.job ? `{job=${s.equals.job}}` : ""}`);
    assert.deepEqual([...new Set(found)].sort(), ["kafka_brokers", "kafka_topic_partition_current_offset", "up{job=kafka-exporter}"]);
  });

  it("detect the containers path stalled while the gateway's still reaches Elasticsearch", () => {
    assert.deepEqual(selectors(rule("ContainerLogPipelineStalled").expr).map((s) => s.equals.name), ["es_gateway", "es_containers"]);
  });

  // A container's alerts name it by the probe's `service` label; the ingest endpoint's alerts name its compose service.
  const linked: [alert: string, container: string][] = [
    ["ContainerRestarting", "{{ $labels.service }}"], ["ContainerUnhealthy", "{{ $labels.service }}"],
    ["IngestEndpointRefusing", "ingest"], ["IngestEndpointPaused", "ingest"],
  ];
  for (const [alert, container] of linked) {
  it(`${alert}: links the container to its logs in Kibana, a real data view filtered on fields the index maps`, () => {
    const link = rule(alert).annotations?.logs ?? "";
    const match = /^\{\{ \$externalLabels\.kibana_url \}\}\/app\/discover#\/\?.*dataViewId:([\w-]+),.*query:'([^']+)'/.exec(link);
    assert.ok(match, `not a Discover link on the stack's Kibana: ${link}`);
    const [, dataViewId, encodedQuery] = match;
    const dataView = loadSavedObjects().find((o) => o.object.id === dataViewId && o.object.type === "index-pattern");
    assert.equal((dataView?.object.attributes as { title?: string }).title, `${INDEX_PREFIXES.containers}-*`);
    const query = decodeURIComponent(encodedQuery);
    if (container === "{{ $labels.service }}") {
      // `service` is the label the container health probe (platform-host/container-health.sh) writes.
      assert.ok(fs.readFileSync(path.join(REPO_ROOT, "platform-host", "container-health.sh"), "utf8").includes('{service=\\"$service\\"'));
    } else {
      assert.ok(loadCompose("web").services[container], `${container} is a compose service of the web host`);
    }
    assert.equal(query, `host.name:"{{ $labels.member }}" and container.name:"${container}"`);
    const fields = mappedFields("containers");
    for (const field of kqlFields(query)) assert.equal(fields.get(field)?.type, "keyword", `${field} in the containers template`);
    // The same names the forwarder of every host gives the documents: host.name = the member (its scrape label),
    // container.name = the compose service.
    const forwarder = fs.readFileSync(path.join(REPO_ROOT, "forwarder", "fluent-bit.yaml"), "utf8");
    assert.match(forwarder, /attrs\.com\.docker\.compose\.service container\.name/);
    assert.match(forwarder, /host\.name \$\{HOST_MEMBER\}/);
    assert.deepEqual(ROLES.map((role) => Object.keys(loadCompose(role).services).includes("fluent-bit-forwarder")), ROLES.map(() => true));
  });
  }

  it("detect the stalled pipeline from the forwarder's kafka_gateway and the aggregator's es_gateway outputs", () => {
    const stalled = rules.find((r) => r.alert === "GatewayLogPipelineStalled");
    const names = selectors(stalled?.expr ?? "").map((s) => s.equals.name);
    assert.deepEqual(names, ["kafka_gateway", "es_gateway"]);
  });
});

describe("monitoring: Grafana datasources", () => {
  const byUid = new Map(datasources.map((ds) => [ds.uid, ds]));

  it("are exactly the fixed UIDs alertmanager, prometheus and elasticsearch-gateway", () => {
    assert.deepEqual([...byUid.keys()].sort(), ["alertmanager", "elasticsearch-gateway", "prometheus"]);
  });

  it("read alerts from the Alertmanager compose service, without sending Grafana-managed alerts to it", () => {
    const am = byUid.get("alertmanager");
    assert.equal(am?.type, "alertmanager");
    assert.equal(am?.url, `http://alertmanager:${PORTS.alertmanager}`);
    assert.ok(compose.services.alertmanager, "the alertmanager URL is the compose service of that name");
    assert.deepEqual(am?.jsonData, { implementation: "prometheus", handleGrafanaManagedAlerts: false });
  });

  it("point Prometheus at the compose service, with the scrape interval as Grafana's minimum step", () => {
    const prom = byUid.get("prometheus");
    assert.equal(prom?.type, "prometheus");
    assert.equal(prom?.url, `http://prometheus:${PORTS.prometheus}`);
    assert.equal(prom?.jsonData?.timeInterval, promConfig.global.scrape_interval);
  });

  it("read the aggregator's daily gateway indices by @timestamp, from the URL in .env", () => {
    const es = byUid.get("elasticsearch-gateway");
    assert.equal(es?.type, "elasticsearch");
    assert.equal(es?.jsonData?.index, `[${INDEX_PREFIXES.gateway}-]YYYY.MM.DD`);
    assert.equal(es?.jsonData?.interval, "Daily");
    assert.equal(es?.jsonData?.timeField, "@timestamp");
    assert.equal(es?.url, "$ELASTICSEARCH_URL");
    assert.equal(sampleEnv("monitoring").ELASTICSEARCH_URL, `https://${sampleIpOf("logging")}:${PORTS.elasticsearch}`);
    assert.equal(grafanaEnv.ELASTICSEARCH_URL, "${ELASTICSEARCH_URL}");
  });

  it("log in to Elasticsearch as grafana, trusting the program's CA from the file the bundle renders", () => {
    const es = byUid.get("elasticsearch-gateway") as { basicAuth?: boolean; basicAuthUser?: string; secureJsonData?: Record<string, string>; jsonData?: Record<string, unknown> };
    assert.equal(es.basicAuth, true);
    assert.equal(es.basicAuthUser, ES_ACCOUNTS.grafana);
    assert.equal(es.secureJsonData?.basicAuthPassword, `$${passwordVariable("grafana")}`);
    assert.equal(grafanaEnv[passwordVariable("grafana")], `\${${passwordVariable("grafana")}}`);
    assert.equal(sampleEnv("monitoring")[passwordVariable("grafana")], SAMPLE_FACTS.elasticsearchPasswords.grafana);
    assert.equal(es.jsonData?.tlsAuthWithCACert, true);
    const file = /^\$__file\{(.+)\}$/.exec(es.secureJsonData?.tlsCACert ?? "")?.[1];
    assert.ok(file, `tlsCACert ${es.secureJsonData?.tlsCACert} is not a $__file{} reference`);
    const mounts = (compose.services.grafana.volumes as string[]).map((v) => v.split(":"));
    assert.ok(mounts.some(([source, target]) => source === `./${TLS_FILES.caCert}` && target === file), `grafana mounts ./${TLS_FILES.caCert} at ${file}`);
  });
});

describe("monitoring: Grafana dashboards", () => {
  const titles = dashboards.map((d) => d.dashboard.title);

  it("are Hosts, Log pipeline and API gateway, in the platform folder", () => {
    assert.deepEqual([...titles].sort(), ["API gateway", "Hosts", "Log pipeline"]);
    const platform = loadDashboardProviders().find((p) => p.name === "platform");
    assert.ok(platform?.folder, "the platform provider puts them in a folder");
    for (const { file } of dashboards) assert.equal(path.posix.dirname(file), path.posix.basename(platform.options.path));
  });

  it("each carry a unique fixed uid (Grafana allows 40 characters) and no database id", () => {
    const uids = dashboards.map((d) => d.dashboard.uid);
    assert.equal(new Set(uids).size, uids.length, `duplicate uid in ${uids.join(", ")}`);
    for (const { file, dashboard } of dashboards) {
      assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/, `${file} uid`);
      assert.equal(dashboard.id, null, `${file} id`);
    }
  });

  it("reference datasources only by a provisioned UID of the matching type", () => {
    const types = new Map(datasources.map((ds) => [ds.uid, ds.type]));
    const problems: string[] = [];
    for (const { file, dashboard } of dashboards) {
      const text = JSON.stringify(dashboard);
      if (text.includes("${DS_")) problems.push(`${file}: unbound \${DS_...} placeholder`);
      for (const { at, ref } of datasourceRefs(dashboard)) {
        const { uid, type } = (ref ?? {}) as Partial<DatasourceRef>;
        if (typeof uid !== "string" || types.get(uid) !== type) problems.push(`${file} ${at}: ${JSON.stringify(ref)}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(dashboards.every((d) => datasourceRefs(d.dashboard).length > 0));
  });

  it("query only metrics the configured exporters produce (Prometheus panels and variables)", () => {
    const problems: string[] = [];
    for (const { file, dashboard } of dashboards) {
      const values = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, ".*"]));
      for (const { panel, target, expr } of prometheusTargets(dashboard)) {
        checkExpression(substituteVariables(expr, values), `${file} "${panel.title}" ${target.refId}`, problems);
      }
      for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
        checkExpression(substituteVariables(parseLabelValues(variable).selector, values), `${file} variable ${variable.name}`, problems);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("list the Prometheus rules' firing and pending alerts on the Log pipeline dashboard", () => {
    const pipeline = dashboards.find((d) => d.dashboard.title === "Log pipeline")?.dashboard as Dashboard;
    const lists = pipeline.panels.filter((p) => p.type === "alertlist");
    assert.equal(lists.length, 1);
    const options = lists[0].options as { datasource: string; stateFilter: Record<string, boolean> };
    // The panel filters by datasource name (Grafana's alertlist editor stores ds.name).
    assert.equal(options.datasource, datasources.find((ds) => ds.uid === "prometheus")?.name);
    assert.equal(options.stateFilter.firing && options.stateFilter.pending, true);
  });

  it("make Hosts selectable by role and member in every panel, each series named by its member", () => {
    const hosts = dashboards.find((d) => d.dashboard.title === "Hosts")?.dashboard as Dashboard;
    assert.deepEqual(hosts.templating.list.map((v) => [v.name, parseLabelValues(v).label]), [["role", "role"], ["member", "member"]]);
    assert.match(parseLabelValues(hosts.templating.list[1]).selector, /role=~"\$role"/, "members of the chosen roles");
    for (const { panel, target, expr } of prometheusTargets(hosts)) {
      for (const { metric, equals } of selectors(substituteVariables(expr, { role: "R", member: "M" }))) {
        assert.equal(equals.job, "node", `"${panel.title}" ${metric} selects job node`);
      }
      assert.match(expr, /role=~"\$role"/, `"${panel.title}" filters by $role`);
      assert.match(expr, /member=~"\$member"/, `"${panel.title}" filters by $member`);
      assert.match(legendOf(target), /\{\{member\}\}/, `"${panel.title}" ${target.refId} legend names the member`);
    }
  });

  it("name in legends only labels their query keeps (an aggregation's `by` labels)", () => {
    const problems: string[] = [];
    for (const { file, dashboard } of dashboards) {
      for (const { panel, target, expr } of prometheusTargets(dashboard)) {
        const legend = [...(legendOf(target)).matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
        const groupings = [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].map((m) => m[1].split(",").map((l) => l.trim()));
        const aggregated = /\b(sum|max|min|avg|count)\s*(by\s*\([^)]*\)\s*)?\(/.test(expr);
        for (const label of legend) {
          const kept = !aggregated || (groupings.length > 0 && groupings.every((by) => by.includes(label)));
          if (!kept) problems.push(`${file} "${panel.title}" ${target.refId}: legend {{${label}}} but the query drops ${label}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it("show each Fluent Bit aggregator and forwarder by member on the Log pipeline dashboard", () => {
    const pipeline = dashboards.find((d) => d.dashboard.title === "Log pipeline")?.dashboard as Dashboard;
    const perOutput = prometheusTargets(pipeline).filter(({ expr }) => /job="fluent-bit"/.test(expr) && /\bby\s*\([^)]*\bname\b/.test(expr));
    assert.ok(perOutput.length >= 6, "per-plugin panels exist");
    for (const { panel, target, expr } of perOutput) {
      assert.match(expr, /\bby\s*\([^)]*\bmember\b/, `"${panel.title}" ${target.refId} groups by member`);
      assert.match(legendOf(target), /\{\{member\}\}/, `"${panel.title}" ${target.refId} legend names the member`);
    }
    const exprs = prometheusTargets(pipeline).map((t) => t.expr);
    assert.ok(exprs.includes('count(up{job="node", role="kafka"})') && exprs.some((e) => e.includes("kafka_brokers")), "brokers against kafka hosts");
    assert.ok(exprs.includes('count(up{job="node", role="logging"})') && exprs.some((e) => e.includes("number_of_nodes")), "nodes against logging hosts");
  });

  it("build API gateway panels on the gateway document fields only", () => {
    const fields = new Set(fixtureLines("gateway-access-fields.txt"));
    const gateway = dashboards.find((d) => d.dashboard.title === "API gateway")?.dashboard as Dashboard;
    const targets = gateway.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, t })));
    assert.ok(targets.length >= 4);
    const problems: string[] = [];
    for (const { title, t } of targets) {
      if (t.datasource.uid !== "elasticsearch-gateway") problems.push(`"${title}" is not on elasticsearch-gateway`);
      if (t.timeField !== "@timestamp") problems.push(`"${title}" time field ${t.timeField}`);
      const used = [
        ...(t.metrics ?? []).map((m) => m.field), ...(t.bucketAggs ?? []).map((b) => b.field),
        ...[t.query ?? "", ...(t.bucketAggs ?? []).flatMap((b) => b.settings?.filters?.map((f) => f.query) ?? [])]
          .flatMap((q) => [...q.matchAll(/([\w.@-]+):/g)].map((m) => m[1])),
      ].filter((f): f is string => f !== undefined);
      for (const field of used) if (!fields.has(field)) problems.push(`"${title}" uses unknown field ${field}`);
    }
    assert.deepEqual(problems, []);
  });
});

describe("monitoring: compose bundle", () => {
  const services = compose.services;

  it("publishes Prometheus and Grafana on their ports, with retention and password from .env", () => {
    assert.deepEqual(publishedPorts(services.prometheus), [PORTS.prometheus]);
    assert.deepEqual(publishedPorts(services.grafana), [PORTS.grafana]);
    const command = services.prometheus.command;
    assert.ok(Array.isArray(command) && command.includes("--storage.tsdb.retention.time=${PROMETHEUS_RETENTION_DAYS}d"));
    assert.ok(services.prometheus.volumes?.some((v) => typeof v === "string" && v.endsWith(":/prometheus")), "data volume");
    assert.equal(grafanaEnv.GF_SECURITY_ADMIN_PASSWORD, "${GRAFANA_ADMIN_PASSWORD}");
    assert.equal(grafanaEnv.GF_AUTH_ANONYMOUS_ENABLED, "false");
  });

  it("mounts into Grafana what its dashboard providers and datasource provisioning read", () => {
    const mounts = (service: ComposeService) => (service.volumes ?? [])
      .map((v) => (typeof v === "string" ? v.split(":") : [v.source ?? "", v.target ?? ""]))
      .map(([source, target]) => ({ source, target }));
    const grafanaMounts = mounts(services.grafana);
    for (const provider of loadDashboardProviders()) {
      const mount = grafanaMounts.find((m) => provider.options.path === m.target || provider.options.path.startsWith(`${m.target}/`));
      assert.ok(mount, `provider ${provider.name} reads ${provider.options.path}, which nothing mounts`);
      if (mount.source.startsWith("./")) {
        const local = path.join(repoPathOf("monitoring", mount.source), path.relative(mount.target, provider.options.path));
        assert.ok(fs.readdirSync(local).some((f) => f.endsWith(".json")), `${local} has no dashboards`);
      } else {
        // The grafana.com import writes into this named volume before Grafana starts.
        const importer = mounts(services["grafana-com-dashboards"]).find((m) => m.source === mount.source);
        const command = services["grafana-com-dashboards"].command;
        assert.ok(importer && Array.isArray(command) && command.includes(importer.target), `${mount.source} is not the importer's output`);
      }
    }
    assert.ok(grafanaMounts.some((m) => m.source === "./provisioning/grafana/datasources" && m.target === "/etc/grafana/provisioning/datasources"));
    assert.ok(fs.existsSync(path.join(GRAFANA_PROVISIONING_DIR, "datasources")));
  });

  it("sends alerts to the Alertmanager service and gives the rules the stack's Kibana URL from .env", () => {
    assert.deepEqual(promConfig.alerting?.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets)),
      [`alertmanager:${PORTS.alertmanager}`]);
    assert.equal(promConfig.global.external_labels?.kibana_url, "${KIBANA_URL}");
    const command = services.prometheus.command;
    assert.ok(Array.isArray(command) && command.includes("--enable-feature=expand-external-labels"));
    assert.equal((services.prometheus.environment as Record<string, string>).KIBANA_URL, "${KIBANA_URL}");
    assert.equal(sampleEnv("monitoring").KIBANA_URL, SAMPLE_FACTS.operatorUrls.kibana);
  });

  it("builds Prometheus', Alertmanager's and Grafana's links to themselves on the operator's URLs from .env", () => {
    const env = sampleEnv("monitoring");
    assert.ok((services.prometheus.command as string[]).includes("--web.external-url=${PROMETHEUS_URL}"));
    assert.ok((services.alertmanager.command as string[]).includes("--web.external-url=${ALERTMANAGER_URL}"));
    assert.equal((services.grafana.environment as Record<string, string>).GF_SERVER_ROOT_URL, "${GRAFANA_URL}");
    assert.deepEqual([env.PROMETHEUS_URL, env.ALERTMANAGER_URL, env.GRAFANA_URL],
      [SAMPLE_FACTS.operatorUrls.prometheus, SAMPLE_FACTS.operatorUrls.alertmanager, SAMPLE_FACTS.operatorUrls.grafana]);
  });

  it("runs Prometheus and Alertmanager as their images' user on their rendered secrets, copied by a network-less one-shot", () => {
    const copier = services.secrets;
    const copy = (copier.entrypoint as string[]).join(" ");
    const rendered = renderMonitoringSecrets(SAMPLE_MONITORING_CREDENTIALS);
    assert.ok(copier.volumes?.includes("./secrets:/bundle-secrets:ro"));
    assert.equal(copier.network_mode, "none");
    assert.deepEqual(copier.cap_drop, ["ALL"]);
    for (const server of ["prometheus", "alertmanager"] as const) {
      const service = services[server];
      assert.equal(service.user, undefined, `${server} keeps the image's unprivileged user`);
      assert.deepEqual(dependsOn(service), { secrets: "service_completed_successfully" }, server);
      // The one-shot copies the bundle's secrets/<server>/ into the volume the server reads as /secrets.
      const volume = (service.volumes as string[]).find((v) => v.endsWith(`:${CONTAINER_SECRETS_DIR}:ro`))?.split(":")[0];
      assert.ok(volume && copier.volumes?.includes(`${volume}:/${server}`), `${server}: no copy of its secrets`);
      assert.ok(copy.includes(`cp /bundle-secrets/${path.posix.relative("secrets", monitoringSecretsDir(server))}/* /${server}/`), copy);
      assert.deepEqual((service as { "x-config-files"?: string[] })["x-config-files"], [`./${monitoringSecretsDir(server)}`], server);
      const command = service.command as string[];
      assert.ok(command.includes(`--web.config.file=${CONTAINER_SECRETS_DIR}/${SECRET_FILES.webConfig}`), server);
      // The healthcheck logs in with a client config that reads the password file: no password on its command line.
      const test = (service.healthcheck?.test as string[]).join(" ");
      assert.ok(test.includes(`--http.config.file=${CONTAINER_SECRETS_DIR}/${SECRET_FILES.clientConfig}`), test);
      assert.deepEqual(parse(rendered[`${monitoringSecretsDir(server)}/${SECRET_FILES.clientConfig}`]),
        { basic_auth: { username: server, password_file: `${CONTAINER_SECRETS_DIR}/${SECRET_FILES.password}` } });
      assert.ok(!test.includes(SAMPLE_MONITORING_CREDENTIALS[server].password));
    }
    const configFile = (services.alertmanager.command as string[]).find((a) => a.startsWith("--config.file="))?.split("=")[1];
    assert.equal(configFile, `${CONTAINER_SECRETS_DIR}/${path.posix.relative(monitoringSecretsDir("alertmanager"), ALERTMANAGER_CONFIG_PATH)}`);
    assert.deepEqual(publishedPorts(services.alertmanager), [PORTS.alertmanager]);
  });

  it("logs Prometheus in to Alertmanager and to itself as its own user, and Grafana as `grafana`", () => {
    const prometheusLogin = { username: "prometheus", password_file: `${CONTAINER_SECRETS_DIR}/${SECRET_FILES.password}` };
    const alerting = promConfig.alerting?.alertmanagers ?? [];
    assert.deepEqual(alerting.map((a) => (a as { basic_auth?: unknown }).basic_auth), [prometheusLogin]);
    const self = promConfig.scrape_configs.find((c) => c.job_name === "prometheus") as { basic_auth?: unknown } | undefined;
    assert.deepEqual(self?.basic_auth, prometheusLogin);
    assert.ok(WEB_USERS.prometheus.includes("prometheus") && WEB_USERS.alertmanager.includes("prometheus"));
    type WithAuth = { uid: string; basicAuth?: boolean; basicAuthUser?: string; secureJsonData?: Record<string, string> };
    for (const uid of ["prometheus", "alertmanager"]) {
      const ds = (datasources as unknown as WithAuth[]).find((d) => d.uid === uid);
      assert.deepEqual([ds?.basicAuth, ds?.basicAuthUser, ds?.secureJsonData], [true, "grafana", { basicAuthPassword: "$MONITORING_GRAFANA_PASSWORD" }], uid);
    }
    assert.ok(WEB_USERS.prometheus.includes("grafana") && WEB_USERS.alertmanager.includes("grafana"));
    assert.equal(grafanaEnv.MONITORING_GRAFANA_PASSWORD, "${MONITORING_GRAFANA_PASSWORD}");
    assert.equal(sampleEnv("monitoring").MONITORING_GRAFANA_PASSWORD, SAMPLE_MONITORING_CREDENTIALS.grafana.password);
  });

  it("lets Prometheus read its file_sd targets live: in the folder it mounts, out of its label, re-read every 30 s", async () => {
    // Listed as live, in the directory mount of its config: a targets file the sync replaced (a new inode) shows in
    // the container, where a single-file mount would keep the old one.
    assert.deepEqual((services.prometheus as { "x-live-files"?: string[] })["x-live-files"], [`./${SCRAPE_TARGETS_DIR}`]);
    assert.ok(services.prometheus.volumes?.includes("./prometheus:/etc/prometheus:ro"));
    assert.ok(SCRAPE_TARGETS_DIR.startsWith("prometheus/") && fs.statSync(repoPathOf("monitoring", "prometheus")).isDirectory());
    // The watch applies a change at once; every file_sd config also re-reads its files every 30 s (default: 5 min).
    const sds = promConfig.scrape_configs.flatMap((c) => c.file_sd_configs ?? []);
    assert.ok(sds.length > 0);
    for (const sd of sds) assert.equal(sd.refresh_interval, "30s", sd.files.join(", "));
    // Its label is the same for one logging host and three; a rule or prometheus.yml change still changes it (the
    // repository's prometheus folder is hashed whole), which bundle-changes.test.ts checks through docker-compose.
    const label = async (members: typeof SAMPLE_FACTS.members) => (await mountedFilesHashes(BUNDLE_SOURCES.monitoring, renderedFiles("monitoring", {
      members, alerting: { webhook: false, slack: false }, alertSecrets: {}, monitoringCredentials: SAMPLE_MONITORING_CREDENTIALS, tls: { caCert: "ca" },
    }))).prometheus;
    assert.equal(await label(clusterFacts({ logging: 3 }).members), await label(SAMPLE_FACTS.members));
  });

  it("starts Grafana after the grafana.com import finished and Prometheus is healthy", () => {
    assert.deepEqual(dependsOn(services.grafana), {
      "grafana-com-dashboards": "service_completed_successfully",
      prometheus: "service_healthy",
    });
    const command = services["grafana-com-dashboards"].command;
    const script = (Array.isArray(command) ? command : []).find((arg) => arg.endsWith(".mjs")) ?? "";
    assert.ok(fs.existsSync(path.join(MONITORING_DIR, "grafana-com", path.basename(script))), script);
  });
});
