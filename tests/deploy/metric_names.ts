/**
 * The metric names dashboards and alerts may use: what src/metrics.ts defines (a cluster
 * node's Raft, WAL and peer metrics included) and what Prometheus adds itself.
 */
import { Metrics } from "../../src/metrics.ts";

/** A metric's type, which decides the series names it exposes. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary";

/**
 * Metrics only a cluster node (`serve --cluster`) exports, which the dashboard and alerts
 * chart: src/metrics.ts must define each with this name and type (or this list and the
 * dashboards change with it).
 */
export const clusterMetrics: Readonly<Record<string, MetricType>> = {
  raft_leader_changes_total: "counter",
  ringkv_raft_term: "gauge",
  ringkv_raft_is_leader: "gauge",
  ringkv_raft_commit_index: "gauge",
  ringkv_raft_applied_index: "gauge",
  ringkv_raft_proposals_pending: "gauge",
  ringkv_raft_append_duration_seconds: "histogram",
  ringkv_raft_commit_duration_seconds: "histogram",
  ringkv_raft_snapshots_total: "counter",
  ringkv_raft_snapshot_duration_seconds: "histogram",
  ringkv_peer_sent_bytes_total: "counter",
  ringkv_peer_received_bytes_total: "counter",
  ringkv_peer_reconnects_total: "counter",
};

/** Series Prometheus itself records for every scrape target. */
export const prometheusSeries: readonly string[] = [
  "up",
  "scrape_duration_seconds",
  "scrape_samples_scraped",
];

/** The series names one metric exposes: histograms and summaries add _bucket, _sum, _count. */
export function seriesNames(name: string, type: MetricType): string[] {
  if (type === "histogram") return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === "summary") return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/**
 * Name and type of every metric src/metrics.ts registers on a cluster node (process and
 * cluster metrics included).
 */
export function definedMetrics(): Map<string, MetricType> {
  const metrics = new Metrics();
  metrics.raft();
  metrics.close();
  const defined = new Map<string, MetricType>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    if (!["counter", "gauge", "histogram", "summary"].includes(type)) {
      throw new Error(`metric ${name} has unknown type ${type}`);
    }
    defined.set(name, type as MetricType);
  }
  return defined;
}

/** Every series name a query may select: defined, and Prometheus' own. */
export function knownSeries(): Set<string> {
  const known = new Set<string>(prometheusSeries);
  for (const [name, type] of definedMetrics()) {
    for (const series of seriesNames(name, type)) known.add(series);
  }
  return known;
}
