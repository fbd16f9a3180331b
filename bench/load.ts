/**
 * The ringkv HTTP load generator (`deno task load`): many concurrent connections issue GETs
 * and PUTs for a while or a number of ops, and report throughput, HDR latency percentiles,
 * errors by kind and a timeline (an entry per second, or per `--timeline-ms`). `--target etcd`
 * speaks etcd's v3 JSON gateway so peers are measured by the same client. Import
 * {@link runLoad} to drive it from code.
 */
import { parseArgs } from "node:util";
import * as hdr from "hdr-histogram-js";
import { Http1Connection, Http1Error } from "./http1_conn.ts";
import { type KeyChooser, seededRandom, uniformChooser, zipfChooser } from "./load_dist.ts";

/** Which HTTP dialect to speak. */
export type LoadTarget = "ringkv" | "etcd";

/** Everything a load run needs; see {@link loadDefaults} for the defaults. */
export interface LoadOptions {
  /**
   * Node base URLs; connection i starts on urls[i % n] and moves to the next URL after a
   * connection error or a timeout (the failed request counts as an error, and is not retried).
   */
  urls: string[];
  target: LoadTarget;
  /** Concurrent requests in flight (each a worker with its own keep-alive connection). */
  connections: number;
  /** Run for this long (seconds)... */
  durationS: number;
  /** ...or until this many ops were issued, whichever comes first (0 = no op limit). */
  ops: number;
  /** Share of reads, 0..1; the rest are writes. */
  readRatio: number;
  /** Size of the key space. */
  keys: number;
  valueBytes: number;
  distribution: "uniform" | "zipf";
  zipfTheta: number;
  /** Write every key once before the measured run. */
  preload: boolean;
  /** Time limit of one request. */
  timeoutMs: number;
  /** "raw": a lean HTTP/1.1 keep-alive connection per worker; "fetch": the fetch API. */
  httpClient: "raw" | "fetch";
  seed: number;
  keyPrefix: string;
  /** Bearer token (ringkv). */
  token?: string;
  /** Receives the progress line printed per timeline entry; null = silent. */
  progress: ((line: string) => void) | null;
  /**
   * Width of a timeline entry in ms. Unset: one second, and entries as they always were; set
   * (even to 1000): entries also carry `startMs` and `errorsByKind`.
   */
  timelineMs?: number;
}

/** Defaults of every option but urls. */
export const loadDefaults: Omit<LoadOptions, "urls"> = {
  target: "ringkv",
  connections: 64,
  durationS: 10,
  ops: 0,
  readRatio: 0.9,
  keys: 10_000,
  valueBytes: 100,
  distribution: "uniform",
  zipfTheta: 0.99,
  preload: false,
  timeoutMs: 5_000,
  httpClient: "raw",
  seed: 1,
  keyPrefix: "load/",
  progress: (line) => writeStderr(line),
};

/** Upper bounds on the options: every run is bounded in time, ops and memory. */
export const loadLimits = {
  connectionsMax: 4096,
  durationSMax: 3600,
  opsMax: 1_000_000_000,
  keysMax: 10_000_000,
  valueBytesMax: 64 * 1024 * 1024,
  timeoutMsMax: 600_000,
  timelineMsMin: 10,
  timelineMsMax: 60_000,
};

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

/**
 * One entry of the run's timeline: the requests that completed within it (one second, or
 * `timelineMs`), whenever they were sent.
 */
export interface TimelineEntry {
  /** Start of the entry, in seconds since the start of the measured run. */
  second: number;
  ops: number;
  errors: number;
  /** Successful ops per second over this entry's span (the last one may be partial). */
  throughputOpsPerS: number;
  p99Ms: number;
  /** Start of the entry in ms since the start of the run (only with `timelineMs`). */
  startMs?: number;
  /** This entry's errors by kind (only with `timelineMs`). */
  errorsByKind?: Record<string, number>;
}

/** Everything a run measured. */
export interface LoadReport {
  target: LoadTarget;
  urls: string[];
  settings: Omit<LoadOptions, "urls" | "token" | "progress">;
  startedAt: string;
  elapsedS: number;
  /** Completed requests, successful or not. */
  ops: number;
  reads: number;
  writes: number;
  /** Reads of a key that did not exist (successful answers, counted apart). */
  notFound: number;
  errors: number;
  errorsByKind: Record<string, number>;
  /** (ops - errors) / elapsedS. */
  throughputOpsPerS: number;
  latency: { all: LatencySummary; read: LatencySummary; write: LatencySummary };
  timeline: TimelineEntry[];
  preload: { keys: number; elapsedS: number; errors: number } | null;
  machine: { cores: number; deno: string; os: string };
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000, // one hour in microseconds
    numberOfSignificantValueDigits: 3,
  });
}

function summarize(histogram: hdr.Histogram): LatencySummary {
  const count = histogram.totalCount;
  const maxUs = histogram.maxValue;
  // A percentile is reported as its bucket's highest equivalent value: never above the max.
  const at = (p: number) => count ? Math.min(histogram.getValueAtPercentile(p), maxUs) / 1000 : 0;
  return {
    count,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    p999Ms: at(99.9),
    maxMs: count ? maxUs / 1000 : 0,
    meanMs: count ? Math.round(histogram.mean) / 1000 : 0,
  };
}

/** Checks options against {@link loadLimits}; throws RangeError naming the bad one. */
export function validateLoadOptions(options: LoadOptions): void {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new RangeError(what);
  };
  check(options.urls.length >= 1, "give at least one --url");
  for (const url of options.urls) check(/^https?:\/\/[^/]+$/.test(url), `bad URL ${url}`);
  const within = (n: number, min: number, max: number) =>
    Number.isFinite(n) && n >= min && n <= max;
  check(
    within(options.connections, 1, loadLimits.connectionsMax),
    `--connections must be 1..${loadLimits.connectionsMax}`,
  );
  check(
    within(options.durationS, 0.1, loadLimits.durationSMax),
    `--duration must be 0.1..${loadLimits.durationSMax} s`,
  );
  check(within(options.ops, 0, loadLimits.opsMax), `--ops must be 0..${loadLimits.opsMax}`);
  check(within(options.readRatio, 0, 1), "--read-ratio must be within 0..1");
  check(within(options.keys, 1, loadLimits.keysMax), `--keys must be 1..${loadLimits.keysMax}`);
  check(
    within(options.valueBytes, 0, loadLimits.valueBytesMax),
    `--value-bytes must be 0..${loadLimits.valueBytesMax}`,
  );
  check(
    within(options.timeoutMs, 1, loadLimits.timeoutMsMax),
    `--timeout-ms must be 1..${loadLimits.timeoutMsMax}`,
  );
  if (options.timelineMs !== undefined) {
    const { timelineMsMin: min, timelineMsMax: max } = loadLimits;
    check(
      Number.isInteger(options.timelineMs) && within(options.timelineMs, min, max),
      `--timeline-ms must be a whole number of ms within ${min}..${max}`,
    );
  }
  check(options.target === "ringkv" || options.target === "etcd", "--target is ringkv or etcd");
  check(
    options.httpClient === "raw" || options.httpClient === "fetch",
    "--http-client is raw or fetch",
  );
  check(
    options.distribution === "uniform" || options.distribution === "zipf",
    "--distribution is uniform or zipf",
  );
}

type Outcome = "ok" | "not_found" | string;

/** Sends one read or write from `worker` to urls[urlIndex]; resolves "ok", "not_found" or an error kind. */
type Op = (worker: number, urlIndex: number, keyIndex: number) => Promise<Outcome>;

/** One HTTP exchange; throws an error whose kind {@link errorKind} finds. */
type Send = (
  worker: number,
  urlIndex: number,
  request: { method: string; path: string; body?: Uint8Array },
) => Promise<{ status: number; body: Uint8Array }>;

/** The HTTP machinery of a run: raw HTTP/1.1 connections per worker, or fetch. */
interface Transport {
  send: Send;
  close(): void;
}

function errorKind(error: unknown): string {
  if (error instanceof Http1Error) return error.kind === "protocol" ? "protocol" : error.kind;
  if (error instanceof DOMException && error.name === "TimeoutError") return "timeout";
  const text = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  if (/refused/i.test(text)) return "connection_refused";
  if (/reset|closed|broken pipe|eof/i.test(text)) return "connection_reset";
  return "connection";
}

function rawTransport(options: LoadOptions, headerLines: string): Transport {
  const connections = Array.from(
    { length: options.connections },
    () => new Array<Http1Connection | undefined>(options.urls.length),
  );
  return {
    send: (worker, urlIndex, request) => {
      const conn = connections[worker][urlIndex] ??= new Http1Connection(options.urls[urlIndex]);
      return conn.request(request.method, request.path, {
        headerLines,
        body: request.body,
        timeoutMs: options.timeoutMs,
      });
    },
    close: () => connections.flat().forEach((conn) => conn?.close()),
  };
}

function fetchTransport(options: LoadOptions, headers: Record<string, string>): Transport {
  const client = typeof Deno.createHttpClient === "function"
    ? Deno.createHttpClient({ poolMaxIdlePerHost: options.connections, http2: false })
    : undefined;
  return {
    send: async (_worker, urlIndex, request) => {
      const response = await fetch(options.urls[urlIndex] + request.path, {
        method: request.method,
        headers,
        body: request.body as BodyInit | undefined,
        signal: AbortSignal.timeout(options.timeoutMs),
        client,
      } as RequestInit);
      return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
    },
    close: () => client?.close(),
  };
}

function makeOps(
  options: LoadOptions,
  transport: Transport,
): { read: Op; write: Op } {
  const names = (i: number) => options.keyPrefix + String(i).padStart(10, "0");
  const random = seededRandom(options.seed ^ 0x5eed);
  const value = new Uint8Array(options.valueBytes);
  for (let i = 0; i < value.length; i++) value[i] = 97 + Math.floor(random() * 26); // a-z
  const { send } = transport;
  const statusOutcome = (status: number) => `http_${status}`;
  const attempt = (op: () => Promise<Outcome>): Promise<Outcome> => op().catch(errorKind);
  if (options.target === "etcd") {
    const json = (doc: unknown) => encoder.encode(JSON.stringify(doc));
    const valueB64 = btoa(String.fromCharCode(...value));
    const kvs = encoder.encode('"kvs"');
    return {
      read: (worker, u, i) =>
        attempt(async () => {
          const body = json({ key: btoa(names(i)) });
          const answer = await send(worker, u, { method: "POST", path: "/v3/kv/range", body });
          if (answer.status !== 200) return statusOutcome(answer.status);
          return includesBytes(answer.body, kvs) ? "ok" : "not_found";
        }),
      write: (worker, u, i) =>
        attempt(async () => {
          const body = json({ key: btoa(names(i)), value: valueB64 });
          const answer = await send(worker, u, { method: "POST", path: "/v3/kv/put", body });
          return answer.status === 200 ? "ok" : statusOutcome(answer.status);
        }),
    };
  }
  const paths = (i: number) => "/kv/" + encodeURIComponent(names(i));
  return {
    read: (worker, u, i) =>
      attempt(async () => {
        const { status } = await send(worker, u, { method: "GET", path: paths(i) });
        if (status === 200) return "ok";
        return status === 404 ? "not_found" : statusOutcome(status);
      }),
    write: (worker, u, i) =>
      attempt(async () => {
        const { status } = await send(worker, u, { method: "PUT", path: paths(i), body: value });
        return status === 200 || status === 201 || status === 204 ? "ok" : statusOutcome(status);
      }),
  };
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function openTransport(options: LoadOptions): Transport {
  const headers: Record<string, string> = {};
  if (options.token) headers["authorization"] = `Bearer ${options.token}`;
  if (options.target === "etcd") headers["content-type"] = "application/json";
  if (options.httpClient === "fetch") return fetchTransport(options, headers);
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return rawTransport(options, lines);
}

/** Accumulates results and cuts them into timeline entries by completion time. */
class Recorder {
  readonly all = newHistogram();
  readonly read = newHistogram();
  readonly write = newHistogram();
  readonly timeline: TimelineEntry[] = [];
  readonly errorsByKind: Record<string, number> = {};
  ops = 0;
  reads = 0;
  writes = 0;
  notFound = 0;
  errors = 0;
  readonly #entryMs: number;
  readonly #detailed: boolean;
  #entry = 0;
  #entryOps = 0;
  #entryErrors = 0;
  #entryErrorsByKind: Record<string, number> = {};
  #entryHistogram = newHistogram();

  constructor(
    readonly startMs: number,
    readonly options: Pick<LoadOptions, "progress" | "timelineMs">,
  ) {
    this.#entryMs = options.timelineMs ?? 1000;
    this.#detailed = options.timelineMs !== undefined;
  }

  record(isRead: boolean, outcome: Outcome, latencyUs: number, nowMs: number): void {
    this.advanceTo(nowMs);
    this.ops++;
    this.#entryOps++;
    if (isRead) this.reads++;
    else this.writes++;
    if (outcome !== "ok" && outcome !== "not_found") {
      this.errors++;
      this.#entryErrors++;
      this.errorsByKind[outcome] = (this.errorsByKind[outcome] ?? 0) + 1;
      if (this.#detailed) {
        this.#entryErrorsByKind[outcome] = (this.#entryErrorsByKind[outcome] ?? 0) + 1;
      }
      return;
    }
    if (outcome === "not_found") this.notFound++;
    const us = Math.max(1, Math.round(latencyUs));
    this.all.recordValue(us);
    (isRead ? this.read : this.write).recordValue(us);
    this.#entryHistogram.recordValue(us);
  }

  /** Closes every whole entry before `nowMs` (also when nothing completes in it). */
  advanceTo(nowMs: number): void {
    const entry = Math.floor((nowMs - this.startMs) / this.#entryMs);
    while (this.#entry < entry) this.#closeEntry(this.#entryMs / 1000);
  }

  /** Closes the last, partial entry. */
  finish(nowMs: number): void {
    this.advanceTo(nowMs);
    const widthS = this.#entryMs / 1000;
    const spanS = (nowMs - this.startMs) / 1000 - this.#entry * widthS;
    if (this.#entryOps > 0 || spanS > 0.05 * widthS) this.#closeEntry(Math.max(spanS, 0.001));
  }

  #closeEntry(spanS: number): void {
    const ok = this.#entryOps - this.#entryErrors;
    const startMs = this.#entry * this.#entryMs;
    const entry: TimelineEntry = {
      second: startMs / 1000,
      ops: this.#entryOps,
      errors: this.#entryErrors,
      throughputOpsPerS: Math.round(ok / spanS),
      p99Ms: this.#entryHistogram.totalCount
        ? Math.min(
          this.#entryHistogram.getValueAtPercentile(99),
          this.#entryHistogram.maxValue,
        ) / 1000
        : 0,
    };
    if (this.#detailed) {
      entry.startMs = startMs;
      entry.errorsByKind = this.#entryErrorsByKind;
      this.#entryErrorsByKind = {};
    }
    this.timeline.push(entry);
    // The label is the entry's end: whole seconds as before, else seconds with decimals.
    const label = this.#detailed
      ? `${String((startMs + this.#entryMs) / 1000).padStart(7)}s`
      : `${String(this.#entry + 1).padStart(4)}s`;
    this.options.progress?.(
      `[${label}] ${String(entry.throughputOpsPerS).padStart(7)} ops/s` +
        `  p99 ${entry.p99Ms.toFixed(2)} ms  errors ${entry.errors}  total ${this.ops}`,
    );
    this.#entry++;
    this.#entryOps = 0;
    this.#entryErrors = 0;
    this.#entryHistogram.reset();
  }
}

/** Runs `count` workers until `next()` returns -1; each worker sends one request at a time. */
async function drive(
  options: LoadOptions,
  op: (worker: number, slot: number) => Promise<void>,
  next: () => number,
): Promise<void> {
  const workers = Array.from({ length: options.connections }, async (_, worker) => {
    for (let slot = next(); slot >= 0; slot = next()) await op(worker, slot);
  });
  await Promise.all(workers);
}

async function preloadKeys(
  options: LoadOptions,
  write: Op,
): Promise<{ keys: number; elapsedS: number; errors: number }> {
  const startMs = performance.now();
  const deadlineMs = startMs + loadLimits.durationSMax * 1000;
  let nextKey = 0;
  let errors = 0;
  await drive(options, async (worker, key) => {
    const outcome = await write(worker, worker % options.urls.length, key);
    if (outcome !== "ok") errors++;
  }, () => (nextKey < options.keys && performance.now() < deadlineMs ? nextKey++ : -1));
  return { keys: nextKey, elapsedS: (performance.now() - startMs) / 1000, errors };
}

/** Writes every key of the key space once (what `--preload` does), unmeasured. */
export async function preload(
  options: LoadOptions,
): Promise<{ keys: number; elapsedS: number; errors: number }> {
  validateLoadOptions(options);
  const transport = openTransport(options);
  try {
    return await preloadKeys(options, makeOps(options, transport).write);
  } finally {
    transport.close();
  }
}

/**
 * Runs a load test and resolves with its report. Bounded always: by `durationS` and, when
 * given, by `ops`; each request by `timeoutMs`. Throws RangeError for invalid options.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  validateLoadOptions(options);
  const transport = openTransport(options);
  try {
    const ops = makeOps(options, transport);
    const preload = options.preload ? await preloadKeys(options, ops.write) : null;
    const random = seededRandom(options.seed);
    const choose: KeyChooser = options.distribution === "zipf"
      ? zipfChooser(options.keys, random, { theta: options.zipfTheta })
      : uniformChooser(options.keys, random);
    const startedAt = new Date().toISOString();
    const startMs = performance.now();
    const endMs = startMs + options.durationS * 1000;
    const recorder = new Recorder(startMs, options);
    const ticker = setInterval(
      () => recorder.advanceTo(performance.now()),
      options.timelineMs ?? 1000,
    );
    const workerUrl = Array.from(
      { length: options.connections },
      (_, i) => i % options.urls.length,
    );
    let issued = 0;
    const opsMax = options.ops > 0 ? options.ops : Infinity;
    try {
      await drive(options, async (worker) => {
        const isRead = random() < options.readRatio;
        const key = choose();
        const t0 = performance.now();
        const outcome = await (isRead ? ops.read : ops.write)(worker, workerUrl[worker], key);
        const t1 = performance.now();
        recorder.record(isRead, outcome, (t1 - t0) * 1000, t1);
        if (outcome === "timeout" || outcome.startsWith("connection")) {
          workerUrl[worker] = (workerUrl[worker] + 1) % options.urls.length;
        }
      }, () => (issued < opsMax && performance.now() < endMs ? issued++ : -1));
    } finally {
      clearInterval(ticker);
    }
    const doneMs = performance.now();
    recorder.finish(doneMs);
    const elapsedS = (doneMs - startMs) / 1000;
    const { progress: _p, token: _t, urls, ...settings } = options;
    return {
      target: options.target,
      urls,
      settings,
      startedAt,
      elapsedS,
      ops: recorder.ops,
      reads: recorder.reads,
      writes: recorder.writes,
      notFound: recorder.notFound,
      errors: recorder.errors,
      errorsByKind: recorder.errorsByKind,
      throughputOpsPerS: Math.round((recorder.ops - recorder.errors) / elapsedS),
      latency: {
        all: summarize(recorder.all),
        read: summarize(recorder.read),
        write: summarize(recorder.write),
      },
      timeline: recorder.timeline,
      preload,
      machine: {
        cores: navigator.hardwareConcurrency,
        deno: Deno.version.deno,
        os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
      },
    };
  } finally {
    transport.close();
  }
}

/** The human summary of a report, as printed at the end of a run. */
export function formatReport(report: LoadReport): string {
  const s = report.settings;
  const row = (name: string, l: LatencySummary) =>
    `  ${name.padEnd(6)} ${String(l.count).padStart(9)}  p50 ${l.p50Ms.toFixed(2)}  p90 ` +
    `${l.p90Ms.toFixed(2)}  p99 ${l.p99Ms.toFixed(2)}  p99.9 ${l.p999Ms.toFixed(2)}  max ` +
    `${l.maxMs.toFixed(2)} ms`;
  const errors = Object.entries(report.errorsByKind).map(([k, n]) => `${k}=${n}`).join(" ");
  return [
    `load: ${report.target} at ${report.urls.join(",")}; ${s.connections} connections, ` +
    `read ratio ${s.readRatio}, ${s.keys} keys (${s.distribution}), ${s.valueBytes} B values`,
    `machine: ${report.machine.cores} cores, ${report.machine.os}, deno ${report.machine.deno}`,
    report.preload
      ? `preload: ${report.preload.keys} keys in ${report.preload.elapsedS.toFixed(2)} s ` +
        `(${report.preload.errors} errors)`
      : "preload: none",
    `ran ${report.elapsedS.toFixed(2)} s: ${report.ops} ops, ${report.throughputOpsPerS} ops/s, ` +
    `${report.errors} errors${errors ? ` (${errors})` : ""}, ${report.notFound} reads not found`,
    row("all", report.latency.all),
    row("read", report.latency.read),
    row("write", report.latency.write),
  ].join("\n") + "\n";
}

/** Parses a duration: "10" or "10s" (seconds), "500ms", "2m". */
export function parseDurationS(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new RangeError(`not a duration: "${text}" (use e.g. 10s, 500ms, 2m)`);
  const n = Number(match[1]);
  return match[2] === "ms" ? n / 1000 : match[2] === "m" ? n * 60 : n;
}

const usage = `usage: deno task load [flags]

  --url URL[,URL...]      nodes to load (default http://127.0.0.1:7070)
  --target ringkv|etcd    HTTP dialect: ringkv's /kv or etcd's v3 JSON gateway (default ringkv)
  --connections N         concurrent requests (default 64)
  --duration D            run time, e.g. 10s, 500ms, 2m (default 10s; always a bound)
  --ops N                 stop after N ops (the duration still bounds the run)
  --read-ratio R          share of reads, 0..1 (default 0.9)
  --keys N                key space (default 10000)
  --value-bytes N         value size (default 100)
  --distribution D        uniform or zipf (default uniform); --zipf-theta T (default 0.99)
  --preload               write every key once before measuring
  --timeout-ms MS         per-request time limit (default 5000)
  --http-client C         raw (lean HTTP/1.1 per connection, default) or fetch
  --seed N                seed of key and op choices (default 1)
  --token TOKEN           bearer token (env RINGKV_TOKEN)
  --json FILE             also write the full report, with the timeline, as JSON
  --timeline-ms MS        timeline entry width, 10..60000 (default 1000); when given, entries
                          also carry startMs and errorsByKind in the JSON report
  --quiet                 no progress lines
`;

/** Parses `deno task load` flags into options (plus the JSON output path). */
export function parseLoadArgs(
  args: string[],
): { options: LoadOptions; jsonPath?: string; help: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      url: { type: "string" },
      target: { type: "string" },
      connections: { type: "string" },
      duration: { type: "string" },
      ops: { type: "string" },
      "read-ratio": { type: "string" },
      keys: { type: "string" },
      "value-bytes": { type: "string" },
      distribution: { type: "string" },
      "zipf-theta": { type: "string" },
      preload: { type: "boolean" },
      "timeout-ms": { type: "string" },
      "http-client": { type: "string" },
      seed: { type: "string" },
      token: { type: "string" },
      json: { type: "string" },
      "timeline-ms": { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const num = (name: keyof typeof values, fallback: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(n)) {
      throw new RangeError(`--${name} must be a number, got "${raw}"`);
    }
    return n;
  };
  const ops = num("ops", 0);
  const durationS = values.duration !== undefined
    ? parseDurationS(values.duration)
    : ops > 0
    ? loadLimits.durationSMax
    : loadDefaults.durationS;
  const options: LoadOptions = {
    ...loadDefaults,
    urls: (values.url ?? "http://127.0.0.1:7070").split(",").map((u) =>
      u.trim().replace(/\/+$/, "")
    )
      .filter((u) => u !== ""),
    target: (values.target ?? loadDefaults.target) as LoadTarget,
    connections: num("connections", loadDefaults.connections),
    durationS,
    ops,
    readRatio: num("read-ratio", loadDefaults.readRatio),
    keys: num("keys", loadDefaults.keys),
    valueBytes: num("value-bytes", loadDefaults.valueBytes),
    distribution: (values.distribution ?? "uniform") as LoadOptions["distribution"],
    zipfTheta: num("zipf-theta", loadDefaults.zipfTheta),
    preload: values.preload === true,
    timeoutMs: num("timeout-ms", loadDefaults.timeoutMs),
    httpClient: (values["http-client"] ?? "raw") as LoadOptions["httpClient"],
    seed: num("seed", loadDefaults.seed),
    token: values.token ?? Deno.env.get("RINGKV_TOKEN"),
    progress: values.quiet ? null : loadDefaults.progress,
  };
  if (values["timeline-ms"] !== undefined) options.timelineMs = num("timeline-ms", 1000);
  return { options, jsonPath: values.json, help: values.help === true };
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseLoadArgs(args);
    if (parsed.help) {
      await Deno.stdout.write(encoder.encode(usage));
      return 0;
    }
    validateLoadOptions(parsed.options);
  } catch (error) {
    writeStderr(`load: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const report = await runLoad(parsed.options);
  await Deno.stdout.write(encoder.encode(formatReport(report)));
  if (parsed.jsonPath) {
    await Deno.writeTextFile(parsed.jsonPath, JSON.stringify(report, null, 2) + "\n");
  }
  return report.ops > 0 && report.errors < report.ops ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
