/**
 * Event-loop lag measured the cheap way: a timer asks to fire every `periodMs` and records
 * how late it fired. A blocked loop (a long synchronous task, a GC pause) delays every
 * request and every Raft heartbeat on the node, and shows here as lag. The timer is
 * unref'd (it never keeps the process alive) and stops on `stop()`.
 */
import {
  KeyedHistogram,
  type MetricValue,
  type ScrapedMetric,
  scrapedMetric,
} from "./metric_series.ts";

const lagBucketsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Options of {@link EventLoopLag}. */
export interface EventLoopLagOptions {
  /** How often the timer asks to fire. Default 50 ms. */
  periodMs?: number;
  /** Samples the summary gauges are computed over (the most recent ones). Default 600. */
  windowSamplesMax?: number;
}

/** Summary of the samples in the window, in seconds. */
export interface LagSummary {
  /** The most recent sample. */
  last: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

const emptySummary: LagSummary = {
  last: 0,
  min: 0,
  max: 0,
  mean: 0,
  stddev: 0,
  p50: 0,
  p90: 0,
  p99: 0,
};

/**
 * The sampler and its metrics: the histogram `ringkv_event_loop_lag_seconds`, and the gauges
 * prom-client's process metrics name `nodejs_eventloop_lag_*` (its own are fed by Node's
 * monitorEventLoopDelay, which under Deno does not see a blocked loop), computed over the
 * window of recent samples.
 */
export class EventLoopLag {
  readonly periodMs: number;
  readonly #window: Float64Array;
  readonly #scratch: Float64Array;
  readonly #histogram = new KeyedHistogram(lagBucketsSeconds);
  #next = 0;
  #held = 0;
  /** Samples recorded since start; the summary cache is keyed by it. */
  #samples = 0;
  #summary: LagSummary = emptySummary;
  #summaryAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dueMs = 0;

  /** Creates a stopped sampler; see {@link EventLoopLagOptions}. */
  constructor(options: EventLoopLagOptions = {}) {
    this.periodMs = options.periodMs ?? 50;
    const windowMax = options.windowSamplesMax ?? 600;
    if (!(this.periodMs >= 1)) throw new RangeError("periodMs must be at least 1");
    if (!Number.isSafeInteger(windowMax) || windowMax < 1) {
      throw new RangeError("windowSamplesMax must be a positive integer");
    }
    this.#window = new Float64Array(windowMax);
    this.#scratch = new Float64Array(windowMax);
    this.#histogram.ensure(0);
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Samples recorded since creation. */
  get samples(): number {
    return this.#samples;
  }

  /** Starts sampling (no-op when running). */
  start(): void {
    if (this.#timer === undefined) this.#schedule();
  }

  /** Stops sampling; idempotent. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Records one lag sample (the timer does; tests may too). */
  record(lagSeconds: number): void {
    this.#histogram.observe(0, lagSeconds);
    this.#window[this.#next] = lagSeconds;
    this.#next = (this.#next + 1) % this.#window.length;
    if (this.#held < this.#window.length) this.#held++;
    this.#samples++;
  }

  /** Summary of the window; computed at most once per new sample. */
  summary(): LagSummary {
    if (this.#summaryAt === this.#samples || this.#held === 0) return this.#summary;
    const n = this.#held;
    const sorted = this.#scratch.subarray(0, n);
    sorted.set(this.#window.subarray(0, n));
    sorted.sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i];
    const mean = sum / n;
    let squares = 0;
    for (let i = 0; i < n; i++) squares += (sorted[i] - mean) ** 2;
    const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)];
    const lastAt = (this.#next - 1 + this.#window.length) % this.#window.length;
    this.#summary = {
      last: this.#window[lastAt],
      min: sorted[0],
      max: sorted[n - 1],
      mean,
      stddev: Math.sqrt(squares / n),
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
    };
    this.#summaryAt = this.#samples;
    return this.#summary;
  }

  /**
   * The metrics to register: the histogram, and (with `processGauges`) the nodejs_eventloop_lag
   * gauges, which replace prom-client's of the same names.
   */
  metrics(processGauges: boolean): ScrapedMetric[] {
    const histogram = "ringkv_event_loop_lag_seconds";
    const out = [
      scrapedMetric(
        histogram,
        `How late a timer set every ${this.periodMs} ms fired: event-loop lag.`,
        "histogram",
        () => this.#histogram.values(histogram),
      ),
    ];
    if (!processGauges) return out;
    const window = `over the last ${this.#window.length} samples`;
    const gauge = (name: string, help: string, read: (s: LagSummary) => number) =>
      scrapedMetric(name, help, "gauge", (): MetricValue[] => [
        { value: read(this.summary()), labels: {} },
      ]);
    out.push(
      gauge("nodejs_eventloop_lag_seconds", "Event-loop lag of the latest sample.", (s) => s.last),
      gauge("nodejs_eventloop_lag_min_seconds", `Least event-loop lag ${window}.`, (s) => s.min),
      gauge("nodejs_eventloop_lag_max_seconds", `Greatest event-loop lag ${window}.`, (s) => s.max),
      gauge("nodejs_eventloop_lag_mean_seconds", `Mean event-loop lag ${window}.`, (s) => s.mean),
      gauge(
        "nodejs_eventloop_lag_stddev_seconds",
        `Standard deviation of the event-loop lag ${window}.`,
        (s) => s.stddev,
      ),
      gauge("nodejs_eventloop_lag_p50_seconds", `Median event-loop lag ${window}.`, (s) => s.p50),
      gauge("nodejs_eventloop_lag_p90_seconds", `90th percentile lag ${window}.`, (s) => s.p90),
      gauge("nodejs_eventloop_lag_p99_seconds", `99th percentile lag ${window}.`, (s) => s.p99),
    );
    return out;
  }

  #schedule(): void {
    this.#dueMs = performance.now() + this.periodMs;
    const timer = setTimeout(this.#fire, this.periodMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  readonly #fire = (): void => {
    this.record(Math.max(0, performance.now() - this.#dueMs) / 1000);
    if (this.#timer !== undefined) this.#schedule();
  };
}

/** The names of the gauges {@link EventLoopLag.metrics} replaces in prom-client's set. */
export const processLagGaugeNames: readonly string[] = [
  "nodejs_eventloop_lag_seconds",
  "nodejs_eventloop_lag_min_seconds",
  "nodejs_eventloop_lag_max_seconds",
  "nodejs_eventloop_lag_mean_seconds",
  "nodejs_eventloop_lag_stddev_seconds",
  "nodejs_eventloop_lag_p50_seconds",
  "nodejs_eventloop_lag_p90_seconds",
  "nodejs_eventloop_lag_p99_seconds",
];
