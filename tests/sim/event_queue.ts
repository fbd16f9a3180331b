/** A priority queue of timed events for the simulator: earliest time first, ties in FIFO order. */

/** One scheduled event. */
export interface TimedEvent<T> {
  /** Simulated time in milliseconds. */
  atMs: number;
  /** Insertion order, breaks ties so equal times run first-in first-out. */
  seq: number;
  payload: T;
}

/** A binary min-heap of events ordered by (atMs, seq). */
export class EventQueue<T> {
  #heap: TimedEvent<T>[] = [];
  #seq = 0;
  readonly #sizeMax: number;

  /** Creates a queue that throws when more than `sizeMax` events are pending. */
  constructor(sizeMax = 1_000_000) {
    this.#sizeMax = sizeMax;
  }

  /** Number of pending events. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `payload` at `atMs`. Throws when the queue is full. */
  push(atMs: number, payload: T): void {
    if (!Number.isFinite(atMs)) throw new Error(`event time must be finite, got ${atMs}`);
    if (this.#heap.length >= this.#sizeMax) throw new Error("event queue is full");
    const heap = this.#heap;
    heap.push({ atMs, seq: this.#seq++, payload });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  /** The earliest event without removing it, or undefined when empty. */
  peek(): TimedEvent<T> | undefined {
    return this.#heap[0];
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): TimedEvent<T> | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }
}

function less<T>(a: TimedEvent<T>, b: TimedEvent<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
