/** Byte-string ordering helpers shared by listings: compare, successor, prefix to range. */

/** Orders byte strings like the keydir does: unsigned bytes, then length. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.byteLength - b.byteLength;
}

/** The smallest byte string greater than `key`: key followed by a 0x00 byte. */
export function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.byteLength + 1);
  out.set(key);
  return out;
}

/**
 * The smallest byte string greater than every string starting with `prefix`, or undefined
 * when there is none (an empty prefix or one made only of 0xFF bytes).
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.byteLength - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = prefix.slice(0, i + 1);
      out[i] += 1;
      return out;
    }
  }
  return undefined;
}

/** A half-open key range [start, end); an absent bound is unbounded. */
export interface KeyRange {
  start?: Uint8Array;
  end?: Uint8Array;
}

/**
 * The range a listing covers after its continuation point: `after` moves the start past it
 * (forward) or the end down to it (reverse). Returns undefined when the range is empty.
 */
export function listRange(
  range: KeyRange,
  options: { after?: Uint8Array; reverse?: boolean } = {},
): KeyRange | undefined {
  let { start, end } = range;
  const after = options.after;
  if (after !== undefined) {
    if (options.reverse) {
      if (end === undefined || compareBytes(after, end) < 0) end = after;
    } else {
      const next = successor(after);
      if (start === undefined || compareBytes(next, start) > 0) start = next;
    }
  }
  if (start !== undefined && end !== undefined && compareBytes(start, end) >= 0) return undefined;
  return { start, end };
}
