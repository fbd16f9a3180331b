/**
 * Checks appends of one flush against the group's durable log plus the appends before them
 * in the same flush, so a flush never writes a record that would leave a gap in a log.
 */
import { WalInvalidAppendError } from "./errors.ts";
import type { GroupLog } from "./group_log.ts";
import type { WalAppend } from "./types.ts";

/** A group's log shape as it will be once the accepted appends of this flush are written. */
export class Projection {
  snapIndex: number;
  snapTerm: number;
  last: number;
  /** Terms of entries accepted in this flush, by index. */
  #overlay = new Map<number, number>();
  /** Indexes from here up are not the durable log's any more. */
  #cutoff: number;

  constructor(readonly base: GroupLog | undefined) {
    this.snapIndex = base?.snapIndex ?? 0;
    this.snapTerm = base?.snapTerm ?? 0;
    this.last = base?.lastIndex ?? 0;
    this.#cutoff = this.last + 1;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index <= this.snapIndex || index > this.last) return undefined;
    const t = this.#overlay.get(index);
    if (t !== undefined) return t;
    return index < this.#cutoff ? this.base?.termAt(index) : undefined;
  }

  /** Throws WalInvalidAppendError if `req` cannot follow; otherwise takes its effect. */
  accept(group: number, req: WalAppend): void {
    let snapIndex = this.snapIndex;
    let last = this.last;
    let keep = true;
    if (req.snapshot !== undefined && req.snapshot.index >= snapIndex) {
      const s = req.snapshot;
      keep = s.index <= last && this.termAt(s.index) === s.term;
      snapIndex = s.index;
      if (!keep) last = s.index;
    }
    const first = snapIndex + 1;
    const t = req.truncateFrom;
    if (t !== undefined) {
      if (t < first || t > last + 1) {
        throw new WalInvalidAppendError(
          `group ${group}: truncateFrom ${t} is outside [${first}, ${last + 1}]`,
        );
      }
      last = t - 1;
    }
    const entries = req.entries ?? [];
    if (entries.length > 0) {
      const e0 = entries[0].index;
      if (e0 < first || e0 > last + 1) {
        throw new WalInvalidAppendError(
          `group ${group}: entries start at ${e0}, outside [${first}, ${
            last + 1
          }] (a gap or a compacted index)`,
        );
      }
    }
    // Checks passed: take the effect.
    if (req.snapshot !== undefined && req.snapshot.index >= this.snapIndex) {
      this.snapIndex = req.snapshot.index;
      this.snapTerm = req.snapshot.term;
      if (!keep) this.#cut(req.snapshot.index + 1);
    }
    if (t !== undefined) this.#cut(t);
    for (const e of entries) {
      if (e.index <= this.last) this.#cut(e.index);
      this.#overlay.set(e.index, e.term);
      this.last = e.index;
    }
  }

  #cut(from: number): void {
    this.last = from - 1;
    if (from < this.#cutoff) this.#cutoff = from;
    for (const i of this.#overlay.keys()) if (i >= from) this.#overlay.delete(i);
  }
}
