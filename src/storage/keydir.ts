/**
 * The keydir: every live key with where its current record is.
 *
 * Two structures: a hash table key -> location for point lookups and overwrites (no tree
 * descent, which costs a cache miss per level on a large tree; see key_table.ts), and a B+ tree
 * of the keys alone for ordered scans; the tree changes only when a key appears or disappears. Keys are byte strings
 * made by keyToString, so string order is byte order.
 */
import * as sortedBtree from "sorted-btree";
import * as sortedBtreeBulk from "sorted-btree/extended/bulkLoad.js";
import { KeyTable } from "./key_table.ts";

/** Where a key's current record is. `length` < 0 marks a tombstone (during recovery only). */
export class Entry {
  constructor(
    readonly segment: number,
    readonly offset: number,
    readonly length: number,
    readonly seq: number,
  ) {}
}

type KeyTree = sortedBtree.default<string, undefined>;

// The package is CommonJS: depending on the loader its class is `default` or `default.default`.
// deno-lint-ignore no-explicit-any
const loaded = sortedBtree as any;
const BTreeClass: new (
  entries: undefined,
  compare: (a: string, b: string) => number,
  maxNodeSize: number,
) => KeyTree = typeof loaded.default === "function" ? loaded.default : loaded.default.default;

// deno-lint-ignore no-explicit-any
const bulk = sortedBtreeBulk as any;
const bulkLoad: (
  keys: string[],
  values: undefined[],
  maxNodeSize: number,
  compare: (a: string, b: string) => number,
  loadFactor: number,
) => KeyTree = typeof bulk.bulkLoad === "function" ? bulk.bulkLoad : bulk.default.bulkLoad;

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Branching factor of the key tree (larger nodes cost fewer bytes per key). */
export const KEYDIR_NODE_SIZE = 64;

/** A key's location as a plain record (an {@link Entry} is one). */
export interface EntryFields {
  segment: number;
  offset: number;
  length: number;
  seq: number;
}

/** A move of a key's record from one place to another (see {@link Keydir.relocate}). */
export interface Relocation {
  fromSegment: number;
  fromOffset: number;
  toSegment: number;
  toOffset: number;
}

function checkEntry(e: EntryFields): void {
  // Offsets and lengths fit 32 bits: segments are at most 1 GiB plus one write group.
  if (!(e.length >= 0 && e.offset >= 0 && e.offset <= 0xffff_ffff && e.length <= 0xffff_ffff)) {
    throw new Error(`keydir entry out of range: ${JSON.stringify(e)}`);
  }
}

/** The in-memory index of live keys. Entries returned by get are snapshots. */
export class Keydir {
  #table: KeyTable;
  #tree: KeyTree;
  #added = { added: false };

  private constructor(table: KeyTable, tree: KeyTree) {
    this.#table = table;
    this.#tree = tree;
  }

  /** An empty keydir. */
  static empty(): Keydir {
    return new Keydir(new KeyTable(), new BTreeClass(undefined, compareKeys, KEYDIR_NODE_SIZE));
  }

  /**
   * A keydir from a run: `keys` strictly ascending with their `entries`; entries with a
   * negative length (tombstones) are left out. `onLive` sees each entry kept. Built in O(n).
   */
  static build(keys: string[], entries: Entry[], onLive?: (e: Entry) => void): Keydir {
    if (keys.length !== entries.length) throw new Error("keydir build: length mismatch");
    const builder = new KeydirBuilder(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const e = entries[i];
      if (e.length < 0) continue;
      builder.add(keys[i], e);
      onLive?.(e);
    }
    return builder.finish();
  }

  /** @internal For {@link KeydirBuilder}. */
  static fromParts(table: KeyTable, tree: KeyTree): Keydir {
    return new Keydir(table, tree);
  }

  get size(): number {
    return this.#table.size;
  }

  get(key: string): Entry | undefined {
    const t = this.#table;
    const slot = t.find(key);
    return slot < 0
      ? undefined
      : new Entry(t.segment[slot], t.offset[slot], t.length[slot], t.seq[slot]);
  }

  /** The seq of key's entry (no allocation). */
  seqOf(key: string): number | undefined {
    const slot = this.#table.find(key);
    return slot < 0 ? undefined : this.#table.seq[slot];
  }

  has(key: string): boolean {
    return this.#table.find(key) >= 0;
  }

  /** Whether key's current record is the one at `at` (no allocation). */
  isAt(key: string, at: { segment: number; offset: number }): boolean {
    const t = this.#table;
    const slot = t.find(key);
    return slot >= 0 && t.segment[slot] === at.segment && t.offset[slot] === at.offset;
  }

  /**
   * Points key at `move.to*` if it still points at `move.from*` (same record bytes, so length
   * and seq stay); returns whether it moved. No allocation.
   */
  relocate(key: string, move: Relocation): boolean {
    const t = this.#table;
    const slot = t.find(key);
    if (slot < 0 || t.segment[slot] !== move.fromSegment || t.offset[slot] !== move.fromOffset) {
      return false;
    }
    if (move.toOffset < 0 || move.toOffset > 0xffff_ffff) {
      throw new Error(`keydir relocation out of range: ${JSON.stringify(move)}`);
    }
    t.segment[slot] = move.toSegment;
    t.offset[slot] = move.toOffset;
    return true;
  }

  set(key: string, entry: EntryFields): void {
    checkEntry(entry);
    const t = this.#table;
    const slot = t.slotFor(key, this.#added);
    if (this.#added.added) this.#tree.set(key, undefined);
    t.segment[slot] = entry.segment;
    t.offset[slot] = entry.offset;
    t.length[slot] = entry.length;
    t.seq[slot] = entry.seq;
  }

  delete(key: string): boolean {
    if (this.#table.remove(key) < 0) return false;
    this.#tree.delete(key);
    return true;
  }

  /** Keys from `low` (inclusive) upward, with their entries. */
  *entries(low?: string): Generator<[string, Entry]> {
    for (const key of this.#tree.keys(low)) yield [key, this.get(key)!];
  }

  /** Keys below `high` (exclusive; all keys when undefined) downward, with their entries. */
  *entriesBelow(high?: string): Generator<[string, Entry]> {
    for (const [key] of this.#tree.entriesReversed(high, undefined, true)) {
      if (high !== undefined && key >= high) continue;
      yield [key, this.get(key)!];
    }
  }
}

/**
 * Builds a keydir from keys given in strictly ascending order, sized up front: no rehash, and
 * the ordered tree is bulk-loaded in O(n).
 */
export class KeydirBuilder {
  #table: KeyTable;
  #keys: string[];
  #count = 0;
  #keysMax: number;

  /** A builder for at most `keysMax` keys. */
  constructor(keysMax: number) {
    this.#keysMax = keysMax;
    this.#table = new KeyTable(keysMax);
    this.#keys = new Array(keysMax);
  }

  /** Adds the next key (greater than every key added so far) at `entry` (not a tombstone). */
  add(key: string, entry: EntryFields): void {
    checkEntry(entry);
    const n = this.#count;
    if (n >= this.#keysMax) throw new Error("keydir builder: more keys than announced");
    if (n > 0 && !(this.#keys[n - 1] < key)) throw new Error("keydir builder: keys out of order");
    const t = this.#table;
    // Keys arrive strictly ascending, so each is new: no lookup needed.
    const slot = t.addAbsent(key);
    t.segment[slot] = entry.segment;
    t.offset[slot] = entry.offset;
    t.length[slot] = entry.length;
    t.seq[slot] = entry.seq;
    this.#keys[n] = key;
    this.#count = n + 1;
  }

  /** The keydir; the builder must not be used afterwards. */
  finish(): Keydir {
    const keys = this.#keys;
    keys.length = this.#count;
    this.#keys = [];
    const tree = keys.length === 0
      ? new BTreeClass(undefined, compareKeys, KEYDIR_NODE_SIZE)
      : bulkLoad(keys, new Array<undefined>(keys.length), KEYDIR_NODE_SIZE, compareKeys, 0.9);
    return Keydir.fromParts(this.#table, tree);
  }
}

/** Smallest key string greater than every key starting with `prefix`; undefined if none. */
export function prefixEnd(prefix: string): string | undefined {
  let i = prefix.length - 1;
  while (i >= 0 && prefix.charCodeAt(i) === 0xff) i--;
  if (i < 0) return undefined;
  return prefix.slice(0, i) + String.fromCharCode(prefix.charCodeAt(i) + 1);
}
