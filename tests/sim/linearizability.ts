/**
 * A linearizability checker for ringkv's key-value model, in the style of Wing & Gong with
 * Lowe's memoization (as Porcupine does it): the history is partitioned per key, and each
 * key's history is searched for a legal sequential order that respects real time. The
 * search memoizes (set of linearized operations, model state) pairs it has already seen, so
 * it visits each at most once, and it stops after a step budget with "unknown" rather than
 * running for ever.
 *
 * The model of one key is {value, version}: an absent key has value null and version 0;
 * every applied write gets a fresh version greater than the key's previous one (in ringkv,
 * the Raft index). An operation whose outcome is unknown (a timeout) may have taken effect
 * at any moment after its invocation, or never.
 */

/** One client operation on one key, as the client issued it. */
export type KvInput =
  | { kind: "get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "delete"; key: string }
  | { kind: "cas"; key: string; value: string; expectVersion?: number; expectValue?: string }
  | { kind: "create"; key: string; value: string };

/** What the client observed as the operation's result. */
export type KvOutput =
  | { kind: "get"; value: string | null; version: number }
  | { kind: "put"; version: number }
  | { kind: "delete"; existed: boolean }
  | { kind: "cas"; ok: boolean; version?: number }
  | { kind: "create"; ok: boolean; version?: number };

/** A completed or timed-out operation of a history. */
export interface Operation {
  /** The client that issued it (for traces only). */
  clientId: number;
  input: KvInput;
  /** The observed result, or null when the outcome is unknown (a timeout). */
  output: KvOutput | null;
  /** Invocation time; any unit, all operations of a history share it. */
  callTime: number;
  /** Completion time; ignored when `output` is null (it then never returned). */
  returnTime: number;
}

/** The state of one key in the model; version -1 means "some version we never observed". */
export interface KvState {
  value: string | null;
  version: number;
}

/** Outcome of a check: a legal order exists, none exists, or the budget ran out first. */
export type CheckResult = "ok" | "illegal" | "unknown";

/** The verdict on one key's history. */
export interface KeyVerdict {
  key: string;
  result: CheckResult;
  /** Operations of this key that took part in the check. */
  operationCount: number;
  /** Search steps used. */
  steps: number;
  /** For an illegal key: the most operations any explored order linearized. */
  linearizedMax: number;
}

/** The verdict on a whole history. */
export interface CheckReport {
  /** "illegal" if any key is, else "unknown" if any key is, else "ok". */
  result: CheckResult;
  keys: KeyVerdict[];
}

/** Options of {@link checkHistory} and {@link checkKeyHistory}. */
export interface CheckOptions {
  /** Search steps allowed per key before the answer is "unknown". Default 2,000,000. */
  stepsMax?: number;
}

const stepsMaxDefault = 2_000_000;
const unknownVersion = -1;
const absent: KvState = { value: null, version: 0 };

function stateKey(s: KvState): string {
  return s.value === null ? `${s.version}|-` : `${s.version}|+${s.value}`;
}

function writeState(value: string, version: number | undefined, prev: KvState): KvState[] {
  if (version === undefined) return [{ value, version: unknownVersion }];
  // Versions of applied writes grow: a write never gets a version at or below the last one.
  if (prev.version !== unknownVersion && version <= prev.version) return [];
  return [{ value, version }];
}

function casMatch(s: KvState, input: KvInput & { kind: "cas" }): { can: boolean; cannot: boolean } {
  if (s.value === null) return { can: false, cannot: true };
  if (input.expectVersion !== undefined) {
    if (s.version === unknownVersion) return { can: true, cannot: true };
    const same = s.version === input.expectVersion;
    return { can: same, cannot: !same };
  }
  const same = s.value === input.expectValue;
  return { can: same, cannot: !same };
}

function stepGet(s: KvState, out: KvOutput & { kind: "get" }): KvState[] {
  if (out.value !== s.value) return [];
  if (s.value === null) return out.version === 0 ? [s] : [];
  if (s.version === unknownVersion) return [{ value: s.value, version: out.version }];
  return out.version === s.version ? [s] : [];
}

/**
 * The model's transition: every state one operation can lead to from `s` given what was
 * observed (`output` null: unknown). An empty list means the observation is impossible.
 */
export function stepModel(s: KvState, input: KvInput, output: KvOutput | null): KvState[] {
  if (output !== null && output.kind !== input.kind) return [];
  switch (input.kind) {
    case "get":
      return output === null ? [s] : stepGet(s, output as KvOutput & { kind: "get" });
    case "put": {
      const out = output as (KvOutput & { kind: "put" }) | null;
      return writeState(input.value, out?.version, s);
    }
    case "delete": {
      const out = output as (KvOutput & { kind: "delete" }) | null;
      if (out !== null && out.existed !== (s.value !== null)) return [];
      return [absent];
    }
    case "cas": {
      const out = output as (KvOutput & { kind: "cas" }) | null;
      const m = casMatch(s, input);
      const result: KvState[] = [];
      if (m.can && (out === null || out.ok)) {
        result.push(...writeState(input.value, out?.version, s));
      }
      if (m.cannot && (out === null || !out.ok)) result.push(s);
      return result;
    }
    case "create": {
      const out = output as (KvOutput & { kind: "create" }) | null;
      if (s.value === null && (out === null || out.ok)) {
        return writeState(input.value, out?.version, s);
      }
      if (s.value !== null && (out === null || !out.ok)) return [s];
      return [];
    }
  }
}

/** Steps a set of possible states; returns the deduplicated set of successors. */
function stepSet(states: KvState[], op: Operation): KvState[] {
  const seen = new Map<string, KvState>();
  for (const s of states) {
    for (const n of stepModel(s, op.input, op.output)) seen.set(stateKey(n), n);
  }
  return [...seen.values()];
}

function setKey(states: KvState[]): string {
  return states.map(stateKey).sort().join("\n");
}

/** The event list of one key's history: a doubly linked list over call and return events. */
interface EventList {
  next: Int32Array;
  prev: Int32Array;
  /** For event e (1-based), the operation index; calls are 1..n after sorting, by flag. */
  opOf: Int32Array;
  isCall: Uint8Array;
  /** For a call event, its return event. */
  matchOf: Int32Array;
}

function buildEvents(ops: Operation[]): EventList {
  const n = ops.length;
  const events: { time: number; call: boolean; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    const ret = op.output === null ? Number.POSITIVE_INFINITY : op.returnTime;
    if (!(ret >= op.callTime)) throw new Error(`operation ${i} returns before it is called`);
    events.push({ time: op.callTime, call: true, op: i }, { time: ret, call: false, op: i });
  }
  // Ties put calls first: operations touching at one instant count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const size = 2 * n + 1;
  const list: EventList = {
    next: new Int32Array(size).fill(-1),
    prev: new Int32Array(size).fill(-1),
    opOf: new Int32Array(size).fill(-1),
    isCall: new Uint8Array(size),
    matchOf: new Int32Array(size).fill(-1),
  };
  const returnEvent = new Int32Array(n);
  for (let e = 1; e < size; e++) {
    const ev = events[e - 1];
    list.opOf[e] = ev.op;
    list.isCall[e] = ev.call ? 1 : 0;
    if (!ev.call) returnEvent[ev.op] = e;
    list.prev[e] = e - 1;
    list.next[e - 1] = e;
  }
  for (let e = 1; e < size; e++) if (list.isCall[e]) list.matchOf[e] = returnEvent[list.opOf[e]];
  return list;
}

function lift(l: EventList, call: number): void {
  const ret = l.matchOf[call];
  l.next[l.prev[call]] = l.next[call];
  l.prev[l.next[call]] = l.prev[call];
  l.next[l.prev[ret]] = l.next[ret];
  if (l.next[ret] !== -1) l.prev[l.next[ret]] = l.prev[ret];
}

function unlift(l: EventList, call: number): void {
  const ret = l.matchOf[call];
  l.next[l.prev[ret]] = ret;
  if (l.next[ret] !== -1) l.prev[l.next[ret]] = ret;
  l.next[l.prev[call]] = call;
  l.prev[l.next[call]] = call;
}

function bitsKey(bits: Uint32Array): string {
  return bits.join(",");
}

/**
 * Checks the history of one key. All operations must touch the same key; reads with an
 * unknown outcome are dropped (they have no effect). Throws on a malformed history.
 */
export function checkKeyHistory(
  key: string,
  history: Operation[],
  options: CheckOptions = {},
): KeyVerdict {
  const stepsMax = options.stepsMax ?? stepsMaxDefault;
  const ops = history.filter((op) => !(op.input.kind === "get" && op.output === null));
  for (const op of ops) {
    if (op.input.key !== key) throw new Error(`operation on ${op.input.key} in history of ${key}`);
  }
  const n = ops.length;
  const l = buildEvents(ops);
  const bits = new Uint32Array(Math.ceil(n / 32) + 1);
  const seen = new Set<string>();
  const stack: Frame[] = [];
  let frame: Frame = { candidates: candidatesOf(l), next: 0, states: [absent], chosen: -1 };
  let steps = 0;
  let linearizedMax = 0;
  const verdict = (result: CheckResult): KeyVerdict => ({
    key,
    result,
    operationCount: n,
    steps,
    linearizedMax,
  });
  while (l.next[0] !== -1) {
    if (++steps > stepsMax) return verdict("unknown");
    if (frame.next < frame.candidates.length) {
      const call = frame.candidates[frame.next++];
      const op = l.opOf[call];
      const nextStates = stepSet(frame.states, ops[op]);
      if (nextStates.length === 0) continue;
      bits[op >> 5] |= 1 << (op & 31);
      const memo = bitsKey(bits) + "#" + setKey(nextStates);
      if (seen.has(memo)) {
        bits[op >> 5] &= ~(1 << (op & 31));
        continue;
      }
      seen.add(memo);
      lift(l, call);
      frame.chosen = call;
      stack.push(frame);
      linearizedMax = Math.max(linearizedMax, stack.length);
      frame = { candidates: candidatesOf(l), next: 0, states: nextStates, chosen: -1 };
      continue;
    }
    // Every candidate at this depth failed: undo the choice that led here.
    const parent = stack.pop();
    if (parent === undefined) return verdict("illegal");
    const op = l.opOf[parent.chosen];
    bits[op >> 5] &= ~(1 << (op & 31));
    unlift(l, parent.chosen);
    frame = parent;
  }
  // Every event lifted: all operations linearized in a legal order.
  if (stack.length !== n) throw new Error("linearized count does not match the history");
  return verdict("ok");
}

/** One depth of the search: the calls that may be linearized next and which one was taken. */
interface Frame {
  candidates: number[];
  next: number;
  states: KvState[];
  chosen: number;
}

/** The calls that may be linearized next: those before the earliest pending return. */
function candidatesOf(l: EventList): number[] {
  const calls: number[] = [];
  for (let e = l.next[0]; e !== -1 && l.isCall[e]; e = l.next[e]) calls.push(e);
  return calls;
}

/** Checks a whole history, key by key (each key is an independent object). */
export function checkHistory(history: Operation[], options: CheckOptions = {}): CheckReport {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    const list = byKey.get(op.input.key);
    if (list) list.push(op);
    else byKey.set(op.input.key, [op]);
  }
  const keys: KeyVerdict[] = [];
  for (const key of [...byKey.keys()].sort()) {
    keys.push(checkKeyHistory(key, byKey.get(key)!, options));
  }
  const result: CheckResult = keys.some((k) => k.result === "illegal")
    ? "illegal"
    : keys.some((k) => k.result === "unknown")
    ? "unknown"
    : "ok";
  return { result, keys };
}

/** A read served from a possibly stale replica, checked apart from the linearizable history. */
export interface StaleRead {
  key: string;
  /** The value read, or null for "absent". */
  value: string | null;
  callTime: number;
  returnTime: number;
}

/**
 * Checks that each stale read returned a value some write (or the initial absence) could
 * have produced before the read completed: the value was written by an operation invoked
 * before the read returned, or is null (absent: initially or after a delete). Returns the
 * reads that fail this, empty when all pass.
 */
export function checkStaleReads(history: Operation[], reads: StaleRead[]): StaleRead[] {
  const firstWrite = new Map<string, number>();
  for (const op of history) {
    const input = op.input;
    if (input.kind === "get" || input.kind === "delete") continue;
    const id = `${input.key}\n${input.value}`;
    firstWrite.set(id, Math.min(firstWrite.get(id) ?? Number.POSITIVE_INFINITY, op.callTime));
  }
  return reads.filter((r) => {
    if (r.value === null) return false;
    const written = firstWrite.get(`${r.key}\n${r.value}`);
    return written === undefined || written > r.returnTime;
  });
}

/** Renders one operation as a short line for traces: "c2 [10,14] put(k1,v7) -> v=12". */
export function formatOperation(op: Operation): string {
  const i = op.input;
  const args = i.kind === "get" || i.kind === "delete"
    ? i.key
    : i.kind === "cas"
    ? `${i.key},${i.value},${
      i.expectVersion !== undefined ? `ver=${i.expectVersion}` : `val=${i.expectValue}`
    }`
    : `${i.key},${i.value}`;
  const ret = op.output === null ? "?" : String(op.returnTime);
  return `c${op.clientId} [${op.callTime},${ret}] ${i.kind}(${args}) -> ${formatOutput(op.output)}`;
}

function formatOutput(out: KvOutput | null): string {
  if (out === null) return "unknown";
  switch (out.kind) {
    case "get":
      return out.value === null ? "absent" : `${out.value}@${out.version}`;
    case "put":
      return `@${out.version}`;
    case "delete":
      return out.existed ? "deleted" : "absent";
    case "cas":
    case "create":
      return out.ok ? `ok@${out.version ?? "?"}` : "failed";
  }
}
