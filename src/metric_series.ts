/**
 * Metrics kept in plain arrays and rendered by prom-client's registry through `get()` at
 * scrape time. Recording costs a map lookup and a few increments, with no allocation:
 * prom-client's own labelled Counter and Histogram hash a label object on every call.
 */

/** One sample of a metric in the shape prom-client's registry renders. */
export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  /** The series name when it differs from the metric's (histogram _bucket, _sum, _count). */
  metricName?: string;
}

/** A metric kind the exposition names in its TYPE line. */
export type ScrapedType = "counter" | "gauge" | "histogram";

/** Values of one metric in the shape prom-client's registry renders. */
export interface MetricValues {
  name: string;
  help: string;
  type: ScrapedType;
  aggregator: "sum";
  values: MetricValue[];
}

/** A metric object prom-client's `Registry.registerMetric` accepts: read at scrape time. */
export interface ScrapedMetric {
  name: string;
  help: string;
  type: ScrapedType;
  get(): MetricValues;
}

/** A metric whose samples `read` computes when the registry is scraped. */
export function scrapedMetric(
  name: string,
  help: string,
  type: ScrapedType,
  read: () => MetricValue[],
): ScrapedMetric {
  return {
    name,
    help,
    type,
    get: () => ({ name, help, type, aggregator: "sum", values: read() }),
  };
}

/** Throws RangeError unless `bounds` is non-empty and strictly ascending. */
export function checkBounds(bounds: readonly number[]): void {
  if (bounds.length === 0) throw new RangeError("a histogram needs at least one bound");
  for (let i = 1; i < bounds.length; i++) {
    if (!(bounds[i] > bounds[i - 1])) throw new RangeError("histogram bounds must ascend");
  }
}

interface Series {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** Options of {@link KeyedHistogram}. */
export interface KeyedHistogramOptions {
  /** Name of the label that carries the key; undefined: one series without labels. */
  labelName?: string;
  /** Most keys kept; observations for keys beyond it are dropped (and counted). Default 4096. */
  seriesMax?: number;
}

/**
 * A histogram with one series per value of one numeric label (a Raft group id, say). The
 * series of a key is created on its first observation or by `ensure`; none is ever removed.
 */
export class KeyedHistogram {
  readonly bounds: readonly number[];
  readonly labelName: string | undefined;
  readonly seriesMax: number;
  /** Observations dropped because seriesMax keys already had a series. */
  dropped = 0;
  readonly #series = new Map<number, Series>();

  /** `bounds`: the finite upper bounds, ascending; +Inf is implied. */
  constructor(bounds: readonly number[], options: KeyedHistogramOptions = {}) {
    checkBounds(bounds);
    this.bounds = [...bounds];
    this.labelName = options.labelName;
    this.seriesMax = options.seriesMax ?? 4096;
    if (!(this.seriesMax >= 1)) throw new RangeError("seriesMax must be at least 1");
  }

  /** Records `value` in the series of `key`. */
  observe(key: number, value: number): void {
    const series = this.#series.get(key) ?? this.#create(key);
    if (series === undefined) {
      this.dropped++;
      return;
    }
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && value > bounds[b]) b++;
    series.buckets[b]++;
    series.sum += value;
    series.count++;
  }

  /** Creates the series of `key` with zero counts, so a rate() over it has a start. */
  ensure(key: number): void {
    if (!this.#series.has(key)) this.#create(key);
  }

  /** Observations recorded for `key` (0 when it has no series). */
  count(key: number): number {
    return this.#series.get(key)?.count ?? 0;
  }

  /** The keys that have a series, in creation order. */
  keys(): IterableIterator<number> {
    return this.#series.keys();
  }

  /** The exposition samples of every series under `name`, with `extra` labels added. */
  values(name: string, extra: Record<string, string> = {}): MetricValue[] {
    const out: MetricValue[] = [];
    for (const [key, s] of this.#series) {
      const labels: Record<string, string | number> = this.labelName === undefined
        ? { ...extra }
        : { [this.labelName]: String(key), ...extra };
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.buckets[i];
        out.push({
          value: cumulative,
          labels: { ...labels, le: this.bounds[i] },
          metricName: `${name}_bucket`,
        });
      }
      out.push({ value: s.count, labels: { ...labels, le: "+Inf" }, metricName: `${name}_bucket` });
      out.push({ value: s.sum, labels, metricName: `${name}_sum` });
      out.push({ value: s.count, labels, metricName: `${name}_count` });
    }
    return out;
  }

  #create(key: number): Series | undefined {
    if (this.#series.size >= this.seriesMax) return undefined;
    const series = { buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.#series.set(key, series);
    return series;
  }
}
