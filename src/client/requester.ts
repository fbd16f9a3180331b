/**
 * One HTTP exchange with retries: per-attempt timeout, rotation over several node URLs,
 * exponential backoff with full jitter, and the rule that decides when a retry is safe.
 */
import {
  ConnectionError,
  HttpError,
  type Problem,
  problemFromResponse,
  RingkvError,
  TimeoutError,
} from "./errors.ts";

/** How retries are paced and bounded. */
export interface RetryPolicy {
  /** Retries after the first attempt (so at most retriesMax + 1 attempts). */
  retriesMax: number;
  /** Backoff before retry n is random in [0, min(backoffMaxMs, backoffBaseMs * 2^n)]. */
  backoffBaseMs: number;
  /** Upper bound of one backoff. */
  backoffMaxMs: number;
  /** Upper bound of a wait asked for by a server's Retry-After header. */
  retryAfterMaxMs: number;
}

/**
 * Whether repeating a request can change the outcome. "idempotent": reads, unconditional
 * PUT/DELETE and unconditional batches. "conditional": writes with If-Match/If-None-Match,
 * retried only when the server or the socket proves the first attempt was not applied.
 */
export type Idempotency = "idempotent" | "conditional";

/** What to send; `path` starts with `/` and may carry a query string. */
export interface RequestSpec {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  idempotency: Idempotency;
  /** When false, a single attempt (used by readiness probes). Default true. */
  retry?: boolean;
}

/** A fully read answer. */
export interface Reply {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The node that answered. */
  url: string;
}

/** Settings of a {@link Requester}. */
export interface RequesterOptions {
  urls: string[];
  token?: string;
  timeoutMs: number;
  responseBytesMax: number;
  retry: RetryPolicy;
  fetch: typeof fetch;
  random: () => number;
}

/** Per-call overrides. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Sends requests to a set of nodes, sticking to the last one that worked. */
export class Requester {
  #options: RequesterOptions;
  #current = 0;

  constructor(options: RequesterOptions) {
    if (options.urls.length === 0) throw new TypeError("at least one node URL is needed");
    if (!(options.timeoutMs > 0)) throw new RangeError("timeoutMs must be positive");
    if (!(options.retry.retriesMax >= 0 && options.retry.retriesMax <= 100)) {
      throw new RangeError("retriesMax must be within 0..100");
    }
    this.#options = options;
  }

  /** The node the next request goes to. */
  get currentUrl(): string {
    return this.#options.urls[this.#current];
  }

  /**
   * Sends `spec`, retrying where safe. Resolves with any answer other than a retryable
   * failure (callers map statuses); throws ConnectionError, TimeoutError or HttpError (503
   * after the last retry), each with `outcomeUnknown` set when a write may have happened.
   */
  async send(spec: RequestSpec, call: CallOptions = {}): Promise<Reply> {
    const { retry } = this.#options;
    const attemptsMax = spec.retry === false ? 1 : retry.retriesMax + 1;
    let lastError: RingkvError | undefined;
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      if (attempt > 0) await sleep(this.#delayMs(attempt - 1, lastError), call.signal);
      const url = this.currentUrl;
      const outcome = await this.#attempt(url, spec, call);
      if (!(outcome instanceof RingkvError)) return outcome;
      lastError = outcome;
      // Never retry blindly a conditional write that may have been applied.
      if (outcome.outcomeUnknown && spec.idempotency === "conditional") throw outcome;
      if (!isRetryable(outcome, spec)) throw outcome;
      this.#current = (this.#current + 1) % this.#options.urls.length;
    }
    if (lastError === undefined) throw new RingkvError("no attempt was made");
    throw lastError;
  }

  #delayMs(retryIndex: number, lastError: RingkvError | undefined): number {
    const { retry, random } = this.#options;
    const capMs = Math.min(retry.backoffMaxMs, retry.backoffBaseMs * 2 ** retryIndex);
    let delayMs = random() * capMs;
    // Retry-After speaks for the node that sent it; with one node, honour it (bounded).
    if (lastError instanceof HttpError && this.#options.urls.length === 1) {
      const askedMs = Number(lastError.problem["retryAfterMs"] ?? 0);
      delayMs = Math.max(delayMs, Math.min(askedMs, retry.retryAfterMaxMs));
    }
    return delayMs;
  }

  async #attempt(url: string, spec: RequestSpec, call: CallOptions): Promise<Reply | RingkvError> {
    const timeoutMs = call.timeoutMs ?? this.#options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    const headers: Record<string, string> = { ...spec.headers };
    if (this.#options.token) headers["authorization"] = `Bearer ${this.#options.token}`;
    const mayApply = spec.method !== "GET" && spec.method !== "HEAD";
    try {
      const response = await this.#options.fetch(url + spec.path, {
        method: spec.method,
        headers,
        body: spec.body as BodyInit | undefined,
        signal,
      });
      if (response.status === 503 || response.status === 502 || response.status === 504) {
        return await unavailableError(response, { url, mayApply });
      }
      const body = await readBody(response, this.#options.responseBytesMax);
      return { status: response.status, headers: response.headers, body, url };
    } catch (error) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (timeout.aborted) {
        return new TimeoutError(`${spec.method} ${url} took longer than ${timeoutMs} ms`, {
          url,
          timeoutMs,
          outcomeUnknown: mayApply,
        });
      }
      if (error instanceof RingkvError) return error;
      const neverSent = isConnectFailure(error);
      return new ConnectionError(`cannot reach ${url}: ${describe(error)}`, {
        url,
        cause: error,
        outcomeUnknown: mayApply && !neverSent,
      });
    }
  }
}

function isRetryable(error: RingkvError, spec: RequestSpec): boolean {
  if (error instanceof HttpError) {
    if (spec.idempotency === "idempotent") return true;
    return error.status === 503; // a 502/504 from a proxy says nothing about the outcome
  }
  return error instanceof ConnectionError || error instanceof TimeoutError;
}

/**
 * A 503 means "not applied" unless the problem says the outcome is unknown (a leader that
 * died after proposing); a conditional write is retried only in the first case.
 */
async function unavailableError(
  response: Response,
  options: { url: string; mayApply: boolean },
): Promise<HttpError> {
  const problem: Problem = await problemFromResponse(response);
  const retryAfterS = Number(response.headers.get("retry-after"));
  if (Number.isFinite(retryAfterS) && retryAfterS > 0) problem["retryAfterMs"] = retryAfterS * 1000;
  const unknown = response.status !== 503 || saysOutcomeUnknown(problem);
  return new HttpError(problem, { url: options.url, outcomeUnknown: options.mayApply && unknown });
}

/** True when a 503 problem states that the request may have been applied. */
export function saysOutcomeUnknown(problem: Problem): boolean {
  if (problem["outcome"] === "unknown" || problem["applied"] === "unknown") return true;
  return /unknown|indeterminate/i.test(problem.type) || /outcome unknown/i.test(problem.title);
}

async function readBody(response: Response, bytesMax: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await response.body.cancel();
    throw new RingkvError(`response of ${declared} bytes exceeds responseBytesMax ${bytesMax}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > bytesMax) {
      await reader.cancel();
      throw new RingkvError(`response exceeds responseBytesMax ${bytesMax} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** True when the error shows that the connection was never made, so nothing was sent. */
function isConnectFailure(error: unknown): boolean {
  const text = describe(error);
  return /connection refused|econnrefused|enotfound|dns error|tcp connect error|failed to lookup/i
    .test(text);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${describe(error.cause)})` : "";
  const code = (error as { code?: unknown }).code;
  return `${error.message}${typeof code === "string" ? ` [${code}]` : ""}${cause}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
