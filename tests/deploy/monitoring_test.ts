/**
 * The Grafana dashboard and the Prometheus alerts chart only metrics that exist (in
 * src/metrics.ts) and that a running cluster node exports, cover what operators need, and
 * every YAML file shipped parses.
 */
import assert from "node:assert/strict";
import { getKey, putKey, startCluster } from "../cluster/cluster_process.ts";
import { parseSamples } from "../metrics_text.ts";
import { clusterMetrics, definedMetrics, knownSeries, prometheusSeries } from "./metric_names.ts";
import { metricNames } from "./promql_names.ts";
import { readYaml, repoPath } from "./helpers.ts";

interface Target {
  expr: string;
  datasource?: { uid: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}

interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: { query: string } | string }[] };
}

const dashboardPath = "deploy/grafana/dashboards/ringkv.json";
const dashboard = JSON.parse(Deno.readTextFileSync(repoPath(dashboardPath))) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== "row");

interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
  annotations?: { summary?: string };
}
const alerts = readYaml("deploy/prometheus/alerts.yml") as { groups: { rules: Rule[] }[] };
const rules = alerts.groups.flatMap((g) => g.rules);

/** Every .yml/.yaml file under `dir` (relative to the repository root). */
function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(repoPath(dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

Deno.test("metricNames finds selected metrics and skips functions, labels and variables", () => {
  const expr = "histogram_quantile(0.99, sum by (instance, le) (rate(" +
    'kv_request_duration_seconds_bucket{route="kv_key", instance=~"$instance"}' +
    "[$__rate_interval]))) > 1e-3 and on (instance) up == 1";
  assert.deepEqual(metricNames(expr), ["kv_request_duration_seconds_bucket", "up"]);
  assert.deepEqual(
    metricNames("max without (node) (a_total) - ignoring (node) group_right b_index offset 5m"),
    ["a_total", "b_index"],
  );
  assert.deepEqual(metricNames('sum(rate(x_total{code=~"5.."}[5m])) / sum(y)'), ["x_total", "y"]);
});

Deno.test("every YAML file shipped parses", () => {
  const files = ["compose.yaml", ...yamlFiles("deploy")];
  assert.ok(files.length >= 7, `only ${files.join(", ")}`);
  for (const file of files) {
    assert.doesNotThrow(() => readYaml(file), `${file} does not parse`);
    assert.equal(typeof readYaml(file), "object", `${file} is empty`);
  }
});

Deno.test("the dashboard queries only metrics src/metrics.ts defines", () => {
  const known = knownSeries();
  const unknown: string[] = [];
  let count = 0;
  for (const panel of queryPanels) {
    for (const target of panel.targets ?? []) {
      for (const name of metricNames(target.expr)) {
        count++;
        if (!known.has(name)) unknown.push(`${panel.title}: ${name}`);
      }
    }
  }
  assert.deepEqual(unknown, []);
  assert.ok(count >= queryPanels.length, "every panel queries at least one metric");
});

Deno.test("the dashboard's node variable lists values of a defined metric", () => {
  const known = knownSeries();
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === "string" ? variable.query : variable.query.query;
    const match = /^label_values\((\w+),\s*(\w+)\)$/.exec(query);
    assert.ok(match, `variable ${variable.name}: unexpected query ${query}`);
    assert.ok(known.has(match[1]), `variable ${variable.name} reads unknown ${match[1]}`);
  }
});

Deno.test("the alerts query only metrics src/metrics.ts defines", () => {
  const known = knownSeries();
  const unknown = rules.flatMap((rule) =>
    metricNames(rule.expr).filter((name) => !known.has(name)).map((n) => `${rule.alert}: ${n}`)
  );
  assert.deepEqual(unknown, []);
});

Deno.test("every alert has a severity and a summary", () => {
  assert.ok(rules.length >= 5);
  for (const rule of rules) {
    assert.match(rule.labels?.severity ?? "", /^(critical|warning|info)$/, rule.alert);
    assert.ok((rule.annotations?.summary ?? "").length > 0, `${rule.alert} has no summary`);
  }
});

Deno.test("the dashboard has panels for throughput, latency, leader, commit lag, fsync, cache", () => {
  const panelFor = (title: RegExp, metric: RegExp) =>
    queryPanels.some((p) =>
      title.test(p.title) && (p.targets ?? []).some((t) => metric.test(t.expr))
    );
  const wanted: [string, RegExp, RegExp][] = [
    ["throughput", /throughput/i, /rate\(kv_requests_total/],
    ["latency percentiles", /latency/i, /histogram_quantile\(0\.99,.*kv_request_duration/],
    ["leader", /leader/i, /ringkv_raft_is_leader/],
    ["commit lag", /commit lag/i, /ringkv_raft_commit_index/],
    ["fsync", /fsync/i, /ringkv_storage_fsync_duration_seconds/],
    ["cache hit rate", /cache hit/i, /cache_hit_rate/],
  ];
  const missing = wanted.filter(([, title, metric]) => !panelFor(title, metric)).map(([n]) => n);
  assert.deepEqual(missing, []);
});

Deno.test("dashboard panels have distinct ids and do not overlap on the grid", () => {
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "duplicate panel ids");
  const cells = new Set<string>();
  for (const { title, gridPos: g } of dashboard.panels) {
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${title} is outside the 24 columns`);
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
  }
});

Deno.test("dashboard panels use the provisioned Prometheus datasource", () => {
  const provisioned = readYaml("deploy/grafana/provisioning/datasources/prometheus.yml") as {
    datasources: { uid: string; type: string }[];
  };
  const uids = new Set(provisioned.datasources.map((d) => d.uid));
  for (const panel of queryPanels) {
    assert.ok(uids.has(panel.datasource?.uid ?? ""), `${panel.title}: datasource`);
    for (const target of panel.targets ?? []) {
      assert.ok(uids.has(target.datasource?.uid ?? ""), `${panel.title}: target datasource`);
    }
  }
});

Deno.test("every cluster metric is defined with the promised type", () => {
  const defined = definedMetrics();
  assert.ok(Object.keys(clusterMetrics).length >= 10);
  for (const [name, type] of Object.entries(clusterMetrics)) {
    assert.equal(defined.get(name), type, `${name} is a ${defined.get(name)}, not a ${type}`);
  }
});

/** Every series name the dashboard's queries and the alerts' expressions select. */
function chartedSeries(): Set<string> {
  const exprs = [
    ...queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...rules.map((r) => r.expr),
  ];
  const names = new Set(exprs.flatMap((expr) => metricNames(expr)));
  for (const own of prometheusSeries) names.delete(own);
  return names;
}

Deno.test({
  name: "a running cluster node, leader or follower, exports every series charted or alerted on",
  sanitizeResources: false,
  async fn() {
    const cluster = await startCluster(3);
    try {
      const leader = await cluster.waitForLeader({ timeoutMs: 30_000 });
      const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
      assert.equal((await putKey(follower.proc!.url, "charted", "v")).status, 201);
      const charted = chartedSeries();
      assert.ok(charted.size >= 20, `only ${[...charted].join(", ")}`);
      for (const node of [leader, follower]) {
        // Request metrics have series once a key request was served.
        assert.equal((await getKey(node.proc!.url, "charted")).status, 200);
        const response = await fetch(`${node.proc!.url}/metrics`, {
          signal: AbortSignal.timeout(15_000),
        });
        assert.equal(response.status, 200);
        const exported = new Set(parseSamples(await response.text()).map((s) => s.name));
        const missing = [...charted].filter((name) => !exported.has(name));
        assert.deepEqual(missing, [], `${node.id} (${node === leader ? "leader" : "follower"})`);
      }
    } finally {
      await cluster.close();
    }
  },
});
