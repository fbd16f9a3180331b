/**
 * Raft's safety properties, checked while a simulation runs: election safety, log
 * matching, leader completeness and state machine safety (Raft paper, Figure 3).
 */

import type { Entry, LogStorage } from "../../src/raft/mod.ts";

/** A broken safety property, with when and where it was seen. */
export interface Violation {
  atMs: number;
  property:
    | "election-safety"
    | "log-matching"
    | "leader-completeness"
    | "state-machine-safety"
    | "acknowledged-write-lost"
    | "linearizability"
    | "stale-read"
    | "liveness"
    | "invariant";
  detail: string;
  /** For violations found after the run: the simulated time where to look in a replay. */
  focusMs?: number;
}

interface AppliedRecord {
  term: number;
  fingerprint: string;
  nodeId: string;
}

/** Entry identity for comparisons: type and data bytes. */
export function entryFingerprint(e: Entry): string {
  let s = e.type + ":";
  for (const b of e.data) s += String.fromCharCode(b);
  return s;
}

/** A node's log as the monitor sees it: persisted entries plus those about to be persisted. */
export interface LogView {
  nodeId: string;
  storage: LogStorage;
  /** Entries not yet in storage that replace or extend it (a Ready's entries), may be empty. */
  pending: Entry[];
}

function termAt(view: LogView, index: number): number | undefined {
  const first = view.pending[0]?.index ?? Number.POSITIVE_INFINITY;
  if (index >= first) return view.pending[index - first]?.term;
  const s = view.storage;
  if (index < s.firstIndex() - 1 || index > s.lastIndex()) return undefined;
  return s.term(index);
}

function entryAt(view: LogView, index: number): Entry | undefined {
  const first = view.pending[0]?.index ?? Number.POSITIVE_INFINITY;
  if (index >= first) return view.pending[index - first];
  const s = view.storage;
  if (index < s.firstIndex() || index > s.lastIndex()) return undefined;
  return s.entries(index, index + 1)[0];
}

function lastIndexOf(view: LogView): number {
  const p = view.pending;
  return p.length > 0 ? p[p.length - 1].index : view.storage.lastIndex();
}

/** Collects violations of Raft's safety properties over a whole run. */
export class SafetyMonitor {
  readonly violations: Violation[] = [];
  #leaders = new Map<number, string>();
  #applied = new Map<number, AppliedRecord>();
  #now: () => number;

  /** Creates a monitor that stamps violations with the simulated time from `now`. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Records a violation. */
  report(property: Violation["property"], detail: string, focusMs?: number): void {
    this.violations.push({
      atMs: this.#now(),
      property,
      detail,
      ...(focusMs === undefined ? {} : { focusMs }),
    });
  }

  /** Highest index any node applied. */
  get appliedMax(): number {
    let max = 0;
    for (const i of this.#applied.keys()) max = Math.max(max, i);
    return max;
  }

  /** The term and fingerprint applied at `index` by anyone, if any. */
  appliedAt(index: number): { term: number; fingerprint: string } | undefined {
    return this.#applied.get(index);
  }

  /** Election safety: at most one leader per term. Leader completeness: its log holds every applied entry. */
  onLeader(term: number, view: LogView): void {
    const known = this.#leaders.get(term);
    if (known !== undefined && known !== view.nodeId) {
      this.report("election-safety", `${known} and ${view.nodeId} both lead term ${term}`);
    }
    this.#leaders.set(term, view.nodeId);
    const floor = view.storage.firstIndex() - 1; // covered by its snapshot: committed
    for (const [index, rec] of this.#applied) {
      if (index <= floor) continue;
      const t = termAt(view, index);
      if (t !== rec.term) {
        this.report(
          "leader-completeness",
          `${view.nodeId} leads term ${term} without committed entry ${index} (term ${rec.term}, applied by ${rec.nodeId}); it has term ${
            t ?? "none"
          }`,
        );
        return;
      }
    }
  }

  /** State machine safety: every node applies the same entry at each index. */
  onApply(nodeId: string, entry: Entry): void {
    const fp = entryFingerprint(entry);
    const rec = this.#applied.get(entry.index);
    if (rec === undefined) {
      this.#applied.set(entry.index, { term: entry.term, fingerprint: fp, nodeId });
    } else if (rec.term !== entry.term || rec.fingerprint !== fp) {
      this.report(
        "state-machine-safety",
        `${nodeId} applied index ${entry.index} term ${entry.term}, ${rec.nodeId} applied term ${rec.term} there`,
      );
    }
  }

  /**
   * Log matching: if two logs hold an entry with the same index and term, the logs are
   * identical up to it. Checks every pair of views.
   */
  checkLogMatching(views: LogView[]): void {
    for (let a = 0; a < views.length; a++) {
      for (let b = a + 1; b < views.length; b++) this.#checkPair(views[a], views[b]);
    }
  }

  #checkPair(x: LogView, y: LogView): void {
    const lo = Math.max(x.storage.firstIndex(), y.storage.firstIndex());
    const hi = Math.min(lastIndexOf(x), lastIndexOf(y));
    // The highest index where both hold the same term: everything from lo up to it must agree.
    let top = -1;
    for (let i = hi; i >= lo; i--) {
      if (termAt(x, i) === termAt(y, i)) {
        top = i;
        break;
      }
    }
    for (let i = lo; i <= top; i++) {
      const ex = entryAt(x, i)!;
      const ey = entryAt(y, i)!;
      if (ex.term !== ey.term || entryFingerprint(ex) !== entryFingerprint(ey)) {
        this.report(
          "log-matching",
          `${x.nodeId} and ${y.nodeId} agree on term ${
            termAt(x, top)
          } at ${top} but differ at ${i}`,
        );
        return;
      }
    }
  }
}
