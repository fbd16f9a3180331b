/**
 * Pacing of background work (merge, hint files) that shares the event loop with requests: work
 * runs in slices bounded by elapsed time, not by a count of items whose cost varies, and
 * yields to the loop between slices so that I/O completions and requests go first.
 */
import { setImmediate } from "node:timers";

/** Default longest stretch of background work between two yields. */
export const SLICE_MS_DEFAULT = 0.5;

/** Items done between two looks at the clock (a clock read costs about as much as an item). */
export const PACER_CHECK_EVERY = 64;

/**
 * Lets the event loop run everything that is ready (I/O callbacks, timers due), then resumes.
 * Unlike setTimeout(0), which waits a millisecond or more, it costs microseconds.
 */
export function yieldToLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Options of {@link Pacer}. */
export interface PacerOptions {
  /** Longest slice of work between yields. Default {@link SLICE_MS_DEFAULT}. */
  sliceMs?: number;
  /** How to yield. Default {@link yieldToLoop}. */
  yieldNow?: () => Promise<void>;
}

/** Decides when background work has used up its slice, and yields. */
export class Pacer {
  readonly sliceMs: number;
  readonly #yieldNow: () => Promise<void>;
  #sliceStart = performance.now();

  /** A pacer whose first slice starts now. */
  constructor(options: PacerOptions = {}) {
    this.sliceMs = options.sliceMs ?? SLICE_MS_DEFAULT;
    if (!(this.sliceMs > 0 && this.sliceMs <= 1000)) {
      throw new RangeError(`pacer: sliceMs ${this.sliceMs} out of (0, 1000]`);
    }
    this.#yieldNow = options.yieldNow ?? yieldToLoop;
  }

  /** Whether the current slice is used up. */
  due(): boolean {
    return performance.now() - this.#sliceStart >= this.sliceMs;
  }

  /** Yields to the event loop and starts a new slice. */
  async pause(): Promise<void> {
    await this.#yieldNow();
    this.#sliceStart = performance.now();
  }

  /** Yields when the slice is used up; otherwise resolves at once. */
  async pauseIfDue(): Promise<void> {
    if (this.due()) await this.pause();
  }

  /** Starts a new slice without yielding (after a wait that yielded anyway, such as I/O). */
  restart(): void {
    this.#sliceStart = performance.now();
  }
}
