/**
 * The keydir's point-lookup structure: an open-addressing hash table (linear probing,
 * backward-shift deletion) from key strings to slots, where each slot's fields live in typed
 * arrays. No object per key: a key costs its string, a 4-byte slot reference in the index (at
 * a load of at most one half), and 24 bytes of columns. The index can be sized up front, so
 * rebuilding a large keydir never rehashes.
 */

/** Most keys one table holds (the index then takes 1 GiB). */
export const KEY_TABLE_KEYS_MAX = 2 ** 27;

const SLOTS_INITIAL = 1024;

// A per-process seed keeps the probe sequence of a given key set unpredictable from outside.
const SEED = crypto.getRandomValues(new Uint32Array(1))[0];

/** A 32-bit hash of a key string (seeded FNV-1a, then a murmur3 finalizer). */
export function hashKey(key: string): number {
  let h = (SEED ^ 0x811c9dc5) | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function powerOfTwoAtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

/**
 * Key -> slot, with the slot's fields in public columns (`segment`, `offset`, `length`,
 * `seq`) that callers read and write directly. Slots of removed keys are reused.
 */
export class KeyTable {
  keys: (string | undefined)[];
  hash: Int32Array;
  segment: Uint32Array;
  offset: Uint32Array;
  length: Uint32Array;
  seq: Float64Array;
  #index: Int32Array;
  #mask: number;
  #size = 0;
  #used = 0;
  #free: number[] = [];

  /** A table with room for `keysExpected` keys before it first grows. */
  constructor(keysExpected = 0) {
    if (!(keysExpected >= 0 && keysExpected <= KEY_TABLE_KEYS_MAX)) {
      throw new RangeError(`key table: ${keysExpected} keys is out of range`);
    }
    const slots = Math.max(SLOTS_INITIAL, keysExpected);
    this.keys = new Array(slots);
    this.hash = new Int32Array(slots);
    this.segment = new Uint32Array(slots);
    this.offset = new Uint32Array(slots);
    this.length = new Uint32Array(slots);
    this.seq = new Float64Array(slots);
    this.#index = new Int32Array(powerOfTwoAtLeast(slots * 2));
    this.#mask = this.#index.length - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The slot of `key`, or -1. */
  find(key: string): number {
    const p = this.#position(key, hashKey(key));
    return p < 0 ? -1 : this.#index[p] - 1;
  }

  /** The slot of `key`, adding it (with zeroed fields) when absent; `added` tells which. */
  slotFor(key: string, added: { added: boolean }): number {
    const h = hashKey(key);
    const p = this.#position(key, h);
    if (p >= 0) {
      added.added = false;
      return this.#index[p] - 1;
    }
    added.added = true;
    return this.#add(key, h);
  }

  /** Adds `key`, which the caller knows to be absent (no lookup); returns its new slot. */
  addAbsent(key: string): number {
    return this.#add(key, hashKey(key));
  }

  /** Removes `key`; returns its former slot, or -1 when absent. */
  remove(key: string): number {
    let p = this.#position(key, hashKey(key));
    if (p < 0) return -1;
    const slot = this.#index[p] - 1;
    // Backward-shift deletion: pull later members of the probe run into the hole, so lookups
    // never need tombstones.
    const index = this.#index;
    const mask = this.#mask;
    let q = p;
    for (let n = 0; n <= mask; n++) {
      q = (q + 1) & mask;
      const s = index[q];
      if (s === 0) break;
      const home = this.hash[s - 1] & mask;
      const stays = p <= q ? p < home && home <= q : p < home || home <= q;
      if (stays) continue;
      index[p] = s;
      p = q;
    }
    index[p] = 0;
    this.keys[slot] = undefined;
    this.#free.push(slot);
    this.#size--;
    return slot;
  }

  #position(key: string, h: number): number {
    const index = this.#index;
    const mask = this.#mask;
    let p = h & mask;
    // The index is at most half full, so a free cell ends every probe run.
    for (let n = 0; n <= mask; n++) {
      const s = index[p];
      if (s === 0) return -1;
      if (this.hash[s - 1] === h && this.keys[s - 1] === key) return p;
      p = (p + 1) & mask;
    }
    throw new Error("key table: index has no free cell");
  }

  #add(key: string, h: number): number {
    if (this.#size >= KEY_TABLE_KEYS_MAX) throw new RangeError("key table is full");
    if ((this.#size + 1) * 2 > this.#index.length) this.#rehash(this.#index.length * 2);
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#used === this.hash.length) this.#growSlots(this.#used * 2);
      slot = this.#used++;
    }
    this.keys[slot] = key;
    this.hash[slot] = h;
    this.segment[slot] = 0;
    this.offset[slot] = 0;
    this.length[slot] = 0;
    this.seq[slot] = 0;
    this.#place(slot);
    this.#size++;
    return slot;
  }

  #place(slot: number): void {
    const index = this.#index;
    const mask = this.#mask;
    let p = this.hash[slot] & mask;
    for (let n = 0; n <= mask; n++) {
      if (index[p] === 0) {
        index[p] = slot + 1;
        return;
      }
      p = (p + 1) & mask;
    }
    throw new Error("key table: index has no free cell");
  }

  #rehash(cells: number): void {
    const old = this.#index;
    this.#index = new Int32Array(cells);
    this.#mask = cells - 1;
    for (let p = 0; p < old.length; p++) if (old[p] !== 0) this.#place(old[p] - 1);
  }

  #growSlots(slots: number): void {
    const grow = <T extends Int32Array | Uint32Array | Float64Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.hash = grow(this.hash, new Int32Array(slots));
    this.segment = grow(this.segment, new Uint32Array(slots));
    this.offset = grow(this.offset, new Uint32Array(slots));
    this.length = grow(this.length, new Uint32Array(slots));
    this.seq = grow(this.seq, new Float64Array(slots));
    this.keys.length = slots;
  }
}
