/**
 * Shares one asynchronous call among many callers: at most one call runs at a time, and
 * every caller that arrives while it runs shares the next one, started when it ends. This is
 * how reads share a ReadIndex round (etcd's linearizable read loop does the same): a caller
 * always gets the result of a call that started after it asked, so a read point it receives
 * was taken after its request arrived.
 */

/** Runs `call` for many callers; see the module comment. */
export class Coalescer<T> {
  #call: () => Promise<T>;
  #running = false;
  #next: PromiseWithResolvers<T> | undefined;
  #waiting = 0;
  #calls = 0;

  /** Wraps `call`; it is never run twice at once. */
  constructor(call: () => Promise<T>) {
    this.#call = call;
  }

  /** Callers waiting for the next call (not counting those of the running one). */
  get waiting(): number {
    return this.#waiting;
  }

  /** Calls started so far. */
  get calls(): number {
    return this.#calls;
  }

  /**
   * Resolves (or rejects) with the outcome of a call started at or after this moment: now
   * when none runs, else as soon as the running one ended.
   */
  run(): Promise<T> {
    if (!this.#running) return this.#start();
    this.#next ??= Promise.withResolvers<T>();
    this.#waiting++;
    return this.#next.promise;
  }

  #start(): Promise<T> {
    this.#running = true;
    this.#calls++;
    let call: Promise<T>;
    try {
      call = this.#call();
    } catch (error) {
      call = Promise.reject(error);
    }
    const done = () => this.#done();
    call.then(done, done);
    return call;
  }

  #done(): void {
    this.#running = false;
    const next = this.#next;
    if (next === undefined) return;
    this.#next = undefined;
    this.#waiting = 0;
    this.#start().then(next.resolve, next.reject);
  }
}
