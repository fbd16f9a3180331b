/**
 * The shipped Prometheus configuration, alerts and dashboard queries against a real
 * Prometheus scraping a real 3-node ringkv cluster: every query evaluates and every panel
 * returns data. Skipped where `prometheus` is not installed.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { startCluster } from "../cluster/cluster_process.ts";
import { readYaml, repoPath, toolTestName, which } from "./helpers.ts";

const scrapeIntervalS = 1;

interface Dashboard {
  panels: { title: string; targets?: { refId: string; expr: string }[] }[];
}

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { result: unknown[] };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The shipped prometheus.yml, pointed at `targets` and scraping every second. */
function prometheusConfig(targets: string[]): string {
  const config = readYaml("deploy/prometheus/prometheus.yml") as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  config.global.scrape_interval = `${scrapeIntervalS}s`;
  config.global.scrape_timeout = `${scrapeIntervalS}s`;
  config.global.evaluation_interval = `${scrapeIntervalS}s`;
  config.rule_files = config.rule_files.map((f) => repoPath(`deploy/prometheus/${f}`));
  const job = config.scrape_configs.find((c) => c.job_name === "ringkv")!;
  job.static_configs = [{ targets }];
  config.scrape_configs = [job];
  return stringify(config);
}

async function query(base: string, expr: string): Promise<QueryAnswer> {
  const url = `${base}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return await response.json() as QueryAnswer;
}

/** Polls `check` every 200 ms until it returns true; throws after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadlineMs = performance.now() + timeoutMs;
  while (performance.now() < deadlineMs) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Expands Grafana's variables the way the dashboard uses them. */
function expand(expr: string): string {
  return expr.replaceAll("$__rate_interval", `${4 * scrapeIntervalS}s`).replaceAll(
    "$instance",
    ".*",
  );
}

Deno.test({
  name: toolTestName(
    "a real Prometheus loads the alerts and charts every dashboard panel of a 3-node cluster",
    "prometheus",
  ),
  ignore: which("prometheus") === undefined,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster(3);
    const dir = await Deno.makeTempDir({ prefix: "ringkv-prometheus-" });
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const urls = cluster.nodes.map((n) => n.proc!.url);
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      prometheusConfig(urls.map((url) => new URL(url).host)),
    );
    const prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/tsdb`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await cluster.waitForLeader({ timeoutMs: 30_000 });
      for (let i = 0; i < 20; i++) {
        const url = urls[i % urls.length]; // followers forward to the leader
        const put = await fetch(`${url}/kv/k${i}`, { method: "PUT", body: "v" });
        assert.ok(put.ok);
        await (await fetch(`${url}/kv/k${i}`)).arrayBuffer();
        await put.body?.cancel();
      }
      const missing = await fetch(`${urls[0]}/kv/never-written`);
      assert.equal(missing.status, 404); // feeds the errors-by-code panel
      await missing.body?.cancel();
      // Two scrapes after the requests make every rate() defined.
      await waitFor("two scrapes with requests", 30_000, async () => {
        const answer = await query(base, "count_over_time(kv_requests_total[1m])");
        return (answer.data?.result ?? []).some((r) =>
          Number((r as { value: [number, string] }).value[1]) >= 3
        );
      });
      const rules = await (await fetch(`${base}/api/v1/rules`)).json() as {
        data: { groups: { rules: { name: string; health: string }[] }[] };
      };
      const loaded = rules.data.groups.flatMap((g) => g.rules);
      const alerts = readYaml("deploy/prometheus/alerts.yml") as {
        groups: { rules: unknown[] }[];
      };
      assert.equal(loaded.length, alerts.groups.flatMap((g) => g.rules).length);
      const dashboard = JSON.parse(
        await Deno.readTextFile(repoPath("deploy/grafana/dashboards/ringkv.json")),
      ) as Dashboard;
      const empty: string[] = [];
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          const answer = await query(base, expand(target.expr));
          assert.equal(answer.status, "success", `${panel.title}: ${answer.error}`);
          if (answer.data!.result.length === 0) empty.push(`${panel.title} ${target.refId}`);
        }
      }
      assert.deepEqual(empty, [], "every panel returns data");
    } finally {
      try {
        prometheus.kill("SIGTERM");
      } catch {
        // already exited
      }
      await prometheus.status;
      await cluster.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
