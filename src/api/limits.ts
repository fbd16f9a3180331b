/**
 * Limits enforced before work is done: bounded body reads (Content-Length checked before a
 * byte is read, streamed bodies cut at the limit) and a cap on requests in progress.
 */
import { HttpError } from "./errors.ts";

/** Longest time a request body may take to arrive when no timeout is given. */
export const bodyTimeoutMsDefault = 30_000;

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
  const reader = request.body.getReader();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const result = await reader.read().catch((error) => {
        if (timedOut) return undefined;
        throw error;
      });
      if (timedOut || result === undefined) {
        throw new HttpError("request-timeout", `the body did not arrive within ${timeoutMs} ms`);
      }
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
    clearTimeout(timer);
    reader.releaseLock();
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
