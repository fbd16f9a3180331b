/**
 * Limits enforced before work is done: bounded body reads (Content-Length checked before a
 * byte is read, streamed bodies cut at the limit) and a cap on requests in progress.
 */
import { HttpError } from "./errors.ts";

/** Longest time a request body may take to arrive when no timeout is given. */
export const bodyTimeoutMsDefault = 30_000;

/**
 * Deadlines of body reads, checked by one shared interval timer rather than a timer per
 * request: a setTimeout/clearTimeout pair costs about 2 µs, a Set add/delete under 0.1 µs,
 * and every PUT has a deadline. A deadline fires up to one tick late. The interval stops at
 * the first tick that finds nothing pending (not at every last delete, which under light
 * load would start and stop it once per request).
 */
class BodyDeadlines {
  #pending = new Set<BodyDeadline>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #tickMs = bodyDeadlineTickMs;

  add(timeoutMs: number, onExpire: () => void): BodyDeadline {
    const deadline = { atMs: performance.now() + timeoutMs, onExpire };
    this.#pending.add(deadline);
    // A short timeout gets a finer tick; the tick is never coarser than bodyDeadlineTickMs.
    const tickMs = Math.max(1, Math.min(bodyDeadlineTickMs, Math.floor(timeoutMs / 4)));
    if (this.#timer === undefined || tickMs < this.#tickMs) {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#tickMs = tickMs;
      this.#timer = setInterval(() => this.#sweep(), tickMs);
    }
    return deadline;
  }

  delete(deadline: BodyDeadline): void {
    this.#pending.delete(deadline);
  }

  #sweep(): void {
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#tickMs = bodyDeadlineTickMs;
      return;
    }
    const nowMs = performance.now();
    for (const deadline of this.#pending) {
      if (deadline.atMs > nowMs) continue;
      this.#pending.delete(deadline);
      deadline.onExpire();
    }
  }
}

interface BodyDeadline {
  atMs: number;
  onExpire: () => void;
}

/** Coarsest tick of the shared body-deadline timer. */
const bodyDeadlineTickMs = 50;
const bodyDeadlines = new BodyDeadlines();

/**
 * Reads a request body of at most `bytesMax` bytes. Throws HttpError 413 when Content-Length
 * says more (nothing is read) or when a streamed body passes the limit (reading stops there),
 * 408 when the whole body takes longer than `timeoutMs` to arrive, and 400 for a malformed
 * Content-Length.
 */
export async function readBodyBounded(
  request: Request,
  bytesMax: number,
  options: { timeoutMs?: number } = {},
): Promise<Uint8Array> {
  if (!(bytesMax >= 0)) throw new RangeError(`bytesMax must be >= 0: ${bytesMax}`);
  const header = request.headers.get("content-length");
  if (header !== null) {
    if (!/^\d{1,15}$/.test(header)) {
      throw new HttpError("invalid-header", "Content-Length must be a decimal byte count");
    }
    if (Number(header) > bytesMax) throw tooLarge(bytesMax);
  }
  if (request.body === null) return new Uint8Array(0);
  const timeoutMs = options.timeoutMs ?? bodyTimeoutMsDefault;
  if (header !== null) return await readDeclaredBody(request, { bytesMax, timeoutMs });
  return await readStreamedBody(request.body, { bytesMax, timeoutMs });
}

/**
 * A body whose Content-Length is known to be within the limit (the HTTP server never
 * delivers more than it declares) is taken in one piece with `bytes()`: no reader to get
 * and release (a release allocates a TypeError) and no read loop. A body locked by
 * `bytes()` cannot be cancelled, so on a timeout the 408 closes the connection instead.
 */
async function readDeclaredBody(
  request: Request,
  limits: { bytesMax: number; timeoutMs: number },
): Promise<Uint8Array> {
  const { bytesMax, timeoutMs } = limits;
  const reading = request.bytes();
  let deadline: BodyDeadline | undefined;
  const expired = new Promise<never>((_, reject) => {
    deadline = bodyDeadlines.add(timeoutMs, () => reject(requestTimeout(timeoutMs, true)));
  });
  let body: Uint8Array;
  try {
    body = await Promise.race([reading, expired]);
  } finally {
    bodyDeadlines.delete(deadline!);
    expired.catch(() => {});
    reading.catch(() => {});
  }
  // Only a Request built in-process could carry more than it declares.
  if (body.byteLength > bytesMax) throw tooLarge(bytesMax);
  return body;
}

/** A body of unknown length, read chunk by chunk and cut at the limit. */
async function readStreamedBody(
  stream: ReadableStream<Uint8Array>,
  limits: { bytesMax: number; timeoutMs: number },
): Promise<Uint8Array> {
  const { bytesMax, timeoutMs } = limits;
  const reader = stream.getReader();
  let timedOut = false;
  const deadline = bodyDeadlines.add(timeoutMs, () => {
    timedOut = true;
    reader.cancel().catch(() => {});
  });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const result = await reader.read().catch((error) => {
        if (timedOut) return undefined;
        throw error;
      });
      if (timedOut || result === undefined) throw requestTimeout(timeoutMs, false);
      if (result.done) break;
      const value = result.value;
      total += value.byteLength;
      if (total > bytesMax) {
        await reader.cancel().catch(() => {});
        throw tooLarge(bytesMax);
      }
      chunks.push(value);
    }
  } finally {
    bodyDeadlines.delete(deadline);
    // The reader is not released: the body is consumed or cancelled either way, and a
    // release allocates a TypeError (a stack capture) for the reader's closed promise.
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

function requestTimeout(timeoutMs: number, closeConnection: boolean): HttpError {
  return new HttpError("request-timeout", `the body did not arrive within ${timeoutMs} ms`, {
    headers: closeConnection ? { connection: "close" } : undefined,
  });
}

function tooLarge(bytesMax: number): HttpError {
  return new HttpError(
    "payload-too-large",
    `the body is larger than ${bytesMax} bytes, the limit here; send a smaller one`,
    { extra: { limit_bytes: bytesMax } },
  );
}

/** Counts requests in progress and refuses new ones past a maximum instead of queuing them. */
export class ConcurrencyGate {
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  /** A gate admitting at most `maxInFlight` requests at once. */
  constructor(readonly maxInFlight: number) {
    if (!(maxInFlight >= 1)) throw new RangeError(`maxInFlight must be >= 1: ${maxInFlight}`);
  }

  /** Requests admitted and not yet released. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Admits one request (true) or refuses it (false) when the gate is full. */
  tryEnter(): boolean {
    if (this.#inFlight >= this.maxInFlight) return false;
    this.#inFlight++;
    return true;
  }

  /** Releases one admitted request. */
  leave(): void {
    if (this.#inFlight <= 0) throw new Error("ConcurrencyGate.leave without enter");
    this.#inFlight--;
    if (this.#inFlight === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /** Resolves when no request is in progress (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}
