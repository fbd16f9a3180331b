/**
 * Every metric ringkv exports, in one prom-client registry. Request metrics are recorded by
 * the HTTP layer; storage figures come from the store's observer hooks and from a stats
 * callback read at scrape time, so the hot path pays only for a counter and a histogram.
 * A cluster node adds the Raft, WAL and peer metrics of cluster/raft_metrics.ts; every node
 * samples its event-loop lag (event_loop_lag.ts).
 */
import client from "prom-client";
import type { StoreObserver } from "./storage/types.ts";
import type { KvStatus } from "./cluster/kv_service.ts";
import { RaftMetrics } from "./cluster/raft_metrics.ts";
import { EventLoopLag, processLagGaugeNames } from "./event_loop_lag.ts";
import type { MetricValues } from "./metric_series.ts";

/** Request duration buckets in seconds: 50 µs to 10 s. */
const requestBucketsSeconds = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  10,
];
const fsyncBucketsSeconds = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
];
const groupCommitBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Labels of one request: method, route name and status code. */
export interface RequestLabels {
  method: string;
  route: string;
  code: number;
}

/** Options of {@link Metrics}. */
export interface MetricsOptions {
  /** Read at scrape time for the storage gauges. */
  status?: () => KvStatus;
  /** Collect process default metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
  /**
   * Sample the event-loop lag with an unref'd timer until close(). Default: processMetrics.
   * With process metrics on, its gauges replace prom-client's nodejs_eventloop_lag_* ones.
   */
  eventLoopLag?: boolean;
  /** Period of the event-loop lag timer. Default 50 ms. */
  eventLoopSampleMs?: number;
}

/** The `file` label of the fsync metrics: a store's segment or the shared Raft WAL. */
export type FsyncFile = "segment" | "wal";

/** The node's metrics: one registry plus fast recorders for the hot path. */
export class Metrics {
  /** The registry /metrics renders. */
  readonly registry: client.Registry;
  readonly #requests = new RequestRecorder(requestBucketsSeconds);
  readonly #fsync: client.Histogram;
  readonly #groupCommit: client.Histogram;
  readonly #merges: client.Counter;
  readonly #lag: EventLoopLag | undefined;
  #raft: RaftMetrics | undefined;
  #status: (() => KvStatus) | undefined;

  /** Creates the registry and every metric; see {@link MetricsOptions}. */
  constructor(options: MetricsOptions = {}) {
    const registry = new client.Registry();
    this.registry = registry;
    this.#status = options.status;
    for (const metric of this.#requests.metrics()) this.#register(metric);
    this.#fsync = new client.Histogram({
      name: "ringkv_storage_fsync_duration_seconds",
      help: "Duration of each fdatasync of a store segment (file=segment) or the Raft WAL " +
        "(file=wal).",
      labelNames: ["file"],
      buckets: fsyncBucketsSeconds,
      registers: [registry],
    });
    this.#groupCommit = new client.Histogram({
      name: "ringkv_storage_group_commit_writes",
      help: "Writes that shared one fdatasync (group-commit batch size): acknowledged writes " +
        "of a store (file=segment), log entries of the Raft WAL (file=wal).",
      labelNames: ["file"],
      buckets: groupCommitBuckets,
      registers: [registry],
    });
    this.#fsync.zero({ file: "segment" });
    this.#groupCommit.zero({ file: "segment" });
    this.#merges = new client.Counter({
      name: "ringkv_storage_merges_total",
      help: "Merge passes completed.",
      registers: [registry],
    });
    this.#registerStatusGauges(registry);
    const processMetrics = options.processMetrics ?? true;
    if (processMetrics) client.collectDefaultMetrics({ register: registry });
    if (options.eventLoopLag ?? processMetrics) {
      this.#lag = new EventLoopLag({ periodMs: options.eventLoopSampleMs });
      if (processMetrics) {
        for (const name of processLagGaugeNames) registry.removeSingleMetric(name);
      }
      for (const metric of this.#lag.metrics(processMetrics)) this.#register(metric);
      this.#lag.start();
    }
  }

  /**
   * The cluster metrics (Raft groups, WAL, peers): created and registered on the first call,
   * so a single node does not export them. Pass the result to the Raft host as its observer,
   * then `setSource(host)`.
   */
  raft(): RaftMetrics {
    if (this.#raft !== undefined) return this.#raft;
    const raft = new RaftMetrics({
      walSynced: (seconds, entries) => {
        this.#fsync.observe({ file: "wal" }, seconds);
        this.#groupCommit.observe({ file: "wal" }, entries);
      },
      store: this.storeObserver(),
    });
    this.#fsync.zero({ file: "wal" });
    this.#groupCommit.zero({ file: "wal" });
    for (const metric of raft.metrics()) this.#register(metric);
    this.#raft = raft;
    return raft;
  }

  /** Stops the event-loop lag timer. Idempotent; the registry still renders. */
  close(): void {
    this.#lag?.stop();
  }

  #register(metric: { name: string }): void {
    this.registry.registerMetric(metric as unknown as client.Metric);
  }

  /** Sets (or replaces) the source of the storage gauges. */
  setStatusSource(status: () => KvStatus): void {
    this.#status = status;
  }

  #registerStatusGauges(registry: client.Registry): void {
    const gauge = (name: string, help: string, read: (s: KvStatus) => number) => {
      const source = () => this.#status?.();
      new client.Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const status = source();
          if (status !== undefined) this.set(read(status));
        },
      });
    };
    gauge("cache_hit_rate", "Value cache hits / lookups since start (0 before any).", (s) => {
      const lookups = s.cacheHits + s.cacheMisses;
      return lookups === 0 ? 0 : s.cacheHits / lookups;
    });
    gauge("ringkv_storage_keys", "Live keys.", (s) => s.keys);
    gauge("ringkv_storage_live_bytes", "Bytes of current records.", (s) => s.liveBytes);
    gauge("ringkv_storage_dead_bytes", "Bytes a merge would reclaim.", (s) => s.deadBytes);
    gauge("ringkv_storage_disk_bytes", "Bytes of segment and hint files.", (s) => s.diskBytes);
    gauge("ringkv_storage_segments", "Segment files.", (s) => s.segments);
    gauge("ringkv_storage_cache_bytes", "Bytes held by the value cache.", (s) => s.cacheBytes);
    gauge("ringkv_storage_last_version", "Highest version written.", (s) => s.version);
  }

  /** The observer to pass to the storage engine: feeds fsync, group-commit and merge metrics. */
  storeObserver(): StoreObserver {
    return {
      synced: (durationSeconds, writes) => {
        this.#fsync.observe({ file: "segment" }, durationSeconds);
        this.#groupCommit.observe({ file: "segment" }, writes);
      },
      merged: () => this.#merges.inc(),
    };
  }

  /**
   * Records one finished request. Labels must come from small fixed sets (the caller maps
   * unknown methods to "OTHER"; `route` is a route's name, never the raw path). Costs a map
   * lookup and a few increments: the exposition is built only at scrape time.
   */
  recordRequest(labels: RequestLabels, durationSeconds: number): void {
    this.#requests.record(labels, durationSeconds);
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

interface RequestSeries {
  method: string;
  route: string;
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
  codes: Map<number, number>;
}

/**
 * kv_requests_total and kv_request_duration_seconds kept in plain arrays: prom-client's own
 * Counter and Histogram hash their label objects on every call (about 0.8 µs per request
 * here), this costs a map lookup. The registry reads them through `get()` at scrape time.
 */
class RequestRecorder {
  readonly #series = new Map<string, RequestSeries>();
  /** Most method/route series kept; the label sets are fixed, this only guards against bugs. */
  readonly #seriesMax = 256;

  constructor(readonly boundsSeconds: readonly number[]) {
    for (let i = 1; i < boundsSeconds.length; i++) {
      if (!(boundsSeconds[i] > boundsSeconds[i - 1])) throw new RangeError("bounds must ascend");
    }
  }

  record(labels: RequestLabels, seconds: number): void {
    const { method, route, code } = labels;
    const id = method + " " + route;
    let series = this.#series.get(id);
    if (series === undefined) {
      if (this.#series.size >= this.#seriesMax) return;
      series = {
        method,
        route,
        buckets: new Float64Array(this.boundsSeconds.length + 1),
        sum: 0,
        count: 0,
        codes: new Map(),
      };
      this.#series.set(id, series);
    }
    const bounds = this.boundsSeconds;
    let b = 0;
    while (b < bounds.length && seconds > bounds[b]) b++;
    series.buckets[b]++;
    series.sum += seconds;
    series.count++;
    series.codes.set(code, (series.codes.get(code) ?? 0) + 1);
  }

  /** The two metric objects to register. */
  metrics(): { name: string; help: string; type: string; get(): MetricValues }[] {
    const counter = {
      name: "kv_requests_total",
      help: "HTTP requests by method, route and status code.",
      type: "counter",
      get: (): MetricValues => ({
        name: counter.name,
        help: counter.help,
        type: "counter",
        aggregator: "sum",
        values: [...this.#series.values()].flatMap((s) =>
          [...s.codes].map(([code, value]) => ({
            value,
            labels: { method: s.method, route: s.route, code: String(code) },
          }))
        ),
      }),
    };
    const histogram = {
      name: "kv_request_duration_seconds",
      help: "HTTP request duration by method and route, until the response is ready.",
      type: "histogram",
      get: (): MetricValues => ({
        name: histogram.name,
        help: histogram.help,
        type: "histogram",
        aggregator: "sum",
        values: [...this.#series.values()].flatMap((s) => this.#histogramValues(s)),
      }),
    };
    return [counter, histogram];
  }

  #histogramValues(s: RequestSeries): MetricValues["values"] {
    const name = "kv_request_duration_seconds";
    const labels = { method: s.method, route: s.route };
    const out: MetricValues["values"] = [];
    let cumulative = 0;
    this.boundsSeconds.forEach((bound, i) => {
      cumulative += s.buckets[i];
      out.push({
        value: cumulative,
        labels: { ...labels, le: bound },
        metricName: `${name}_bucket`,
      });
    });
    out.push({ value: s.count, labels: { ...labels, le: "+Inf" }, metricName: `${name}_bucket` });
    out.push({ value: s.sum, labels, metricName: `${name}_sum` });
    out.push({ value: s.count, labels, metricName: `${name}_count` });
    return out;
  }
}
