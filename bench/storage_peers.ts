/**
 * One small interface over ringkv's storage engine and the peers it is measured against, so
 * every workload runs the same code against every engine. Every adapter opens its engine in
 * durable mode: a put or batch resolves only once the engine says the write is on disk.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ClassicLevel } from "classic-level";
import { open as openLmdb, type RootDatabase } from "lmdb";
import type { Store, StoreOptions } from "../src/storage/types.ts";

/** The engines a benchmark can open. */
export type PeerName = "ringkv" | "deno-kv" | "sqlite" | "lmdb" | "classic-level";

/** Every engine, in the order tables list them. */
export const peerNames: readonly PeerName[] = [
  "ringkv",
  "lmdb",
  "sqlite",
  "classic-level",
  "deno-kv",
];

/** Most entries one adapter batch takes (Deno KV refuses atomic operations past 1000). */
export const batchOpsMax = 1000;

/** Most entries one scan returns. */
export const scanLimitMax = 100_000;

/** A key and its value. */
export interface KvEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** The operations every benchmark uses; all writes are durable when they resolve. */
export interface KvPeer {
  readonly name: PeerName;
  /** How the engine makes a write durable, for the summary table. */
  readonly durability: string;
  /** Writes key=value; resolves once durable. */
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  /** The value of key, or undefined when missing. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Writes 1..batchOpsMax entries atomically; resolves once durable. */
  batch(entries: readonly KvEntry[]): Promise<void>;
  /** Up to `limit` entries whose key starts with prefix, in key order. */
  scan(prefix: Uint8Array, limit: number): Promise<KvEntry[]>;
  /** Releases the engine (files stay); idempotent; the adapter is unusable afterwards. */
  close(): Promise<void>;
}

/** Options of {@link openPeer}. */
export interface OpenPeerOptions {
  /** Extra options for ringkv's engine (sync stays "always" unless given). */
  ringkv?: StoreOptions;
}

/** The smallest key greater than every key starting with prefix; undefined when none is. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

function checkBatch(entries: readonly KvEntry[]): void {
  if (entries.length < 1 || entries.length > batchOpsMax) {
    throw new RangeError(`a batch takes 1..${batchOpsMax} entries, got ${entries.length}`);
  }
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > scanLimitMax) {
    throw new RangeError(`scan limit must be an integer in 1..${scanLimitMax}, got ${limit}`);
  }
}

type OpenStore = (dir: string, options?: StoreOptions) => Promise<Store>;

const ringkvModuleUrl = new URL("../src/storage/mod.ts", import.meta.url);

/** Whether ringkv's engine entry point (src/storage/mod.ts) exists in this tree. */
export async function ringkvAvailable(): Promise<boolean> {
  try {
    await Deno.stat(ringkvModuleUrl);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function loadRingkv(): Promise<OpenStore> {
  // Loaded by URL so that the peers still run while the engine is absent from the tree.
  const mod = await import(ringkvModuleUrl.href);
  if (typeof mod.open !== "function") {
    throw new TypeError(`${ringkvModuleUrl.pathname} does not export open(dir, options)`);
  }
  return mod.open as OpenStore;
}

function ringkvPeer(store: Store, sync: string): KvPeer {
  return {
    name: "ringkv",
    durability: `sync: ${sync} (fdatasync, group commit)`,
    async put(key, value) {
      await store.put(key, value);
    },
    get: (key) => store.get(key),
    async batch(entries) {
      checkBatch(entries);
      await store.batch(entries.map((e) => ({ type: "put", key: e.key, value: e.value })));
    },
    async scan(prefix, limit) {
      checkLimit(limit);
      const found = await store.scan({ prefix, limit });
      return found.map((e) => ({ key: e.key, value: e.value ?? new Uint8Array(0) }));
    },
    close: () => store.close(),
  };
}

/** The ringkv store behind a peer opened by {@link openRingkvStore}, for engine-only workloads. */
export interface RingkvPeer {
  peer: KvPeer;
  store: Store;
}

/** Opens ringkv's engine both as a peer and as its full Store (merge, stats); durable by default. */
export async function openRingkvStore(
  dir: string,
  options: StoreOptions = {},
): Promise<RingkvPeer> {
  const open = await loadRingkv();
  const store = await open(dir, { sync: "always", ...options });
  return { peer: ringkvPeer(store, options.sync ?? "always"), store };
}

async function openDenoKv(dir: string): Promise<KvPeer> {
  const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
  let closed = false;
  return {
    name: "deno-kv",
    durability: "SQLite WAL, engine defaults (not configurable)",
    async put(key, value) {
      await kv.set([key], value);
    },
    async get(key) {
      const found = await kv.get<Uint8Array>([key]);
      return found.value ?? undefined;
    },
    async batch(entries) {
      checkBatch(entries);
      const op = kv.atomic();
      for (const e of entries) op.set([e.key], e.value);
      const result = await op.commit();
      if (!result.ok) throw new Error("deno-kv: atomic batch was not committed");
    },
    async scan(prefix, limit) {
      checkLimit(limit);
      const end = prefixEnd(prefix);
      // Deno KV ranges are over key tuples; one Uint8Array part orders bytewise.
      const selector = end ? { start: [prefix], end: [end] } : { prefix: [], start: [prefix] };
      const found: KvEntry[] = [];
      for await (const e of kv.list<Uint8Array>(selector, { limit, batchSize: 500 })) {
        found.push({ key: e.key[0] as Uint8Array, value: e.value });
      }
      return found;
    },
    // deno-lint-ignore require-await
    async close() {
      if (closed) return;
      closed = true;
      kv.close();
    },
  };
}

interface SqliteStatements {
  put: StatementSync;
  get: StatementSync;
  scan: StatementSync;
  scanOpen: StatementSync;
}

function prepareSqlite(db: DatabaseSync): SqliteStatements {
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
  return {
    put: db.prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"),
    get: db.prepare("SELECT v FROM kv WHERE k = ?"),
    scan: db.prepare("SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?"),
    scanOpen: db.prepare("SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?"),
  };
}

function sqliteRows(rows: unknown[]): KvEntry[] {
  return rows.map((row) => {
    const r = row as { k: Uint8Array; v: Uint8Array };
    return { key: r.k, value: r.v };
  });
}

function openSqlite(dir: string): Promise<KvPeer> {
  const db = new DatabaseSync(`${dir}/kv.sqlite3`);
  const st = prepareSqlite(db);
  return Promise.resolve({
    name: "sqlite",
    durability: "WAL, synchronous=FULL (fsync per commit)",
    // deno-lint-ignore require-await
    async put(key, value) {
      st.put.run(key, value);
    },
    // deno-lint-ignore require-await
    async get(key) {
      const row = st.get.get(key) as { v: Uint8Array } | undefined;
      return row?.v;
    },
    // deno-lint-ignore require-await
    async batch(entries) {
      checkBatch(entries);
      db.exec("BEGIN");
      try {
        for (const e of entries) st.put.run(e.key, e.value);
        db.exec("COMMIT");
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
    // deno-lint-ignore require-await
    async scan(prefix, limit) {
      checkLimit(limit);
      const end = prefixEnd(prefix);
      const rows = end ? st.scan.all(prefix, end, limit) : st.scanOpen.all(prefix, limit);
      return sqliteRows(rows);
    },
    // deno-lint-ignore require-await
    async close() {
      if (db.isOpen) db.close();
    },
  });
}

function openLmdbPeer(dir: string): Promise<KvPeer> {
  const db: RootDatabase<Uint8Array, Uint8Array> = openLmdb({
    path: dir,
    keyEncoding: "binary",
    encoding: "binary",
    compression: false,
    overlappingSync: false,
  });
  return Promise.resolve({
    name: "lmdb",
    durability: "overlappingSync: false (fsync per batched commit)",
    async put(key, value) {
      await db.put(key, value);
    },
    // deno-lint-ignore require-await
    async get(key) {
      return db.get(key);
    },
    async batch(entries) {
      checkBatch(entries);
      await db.transaction(() => {
        for (const e of entries) db.put(e.key, e.value);
      });
    },
    // deno-lint-ignore require-await
    async scan(prefix, limit) {
      checkLimit(limit);
      const end = prefixEnd(prefix);
      const found: KvEntry[] = [];
      for (const e of db.getRange({ start: prefix, end, limit })) {
        found.push({ key: e.key, value: e.value });
      }
      return found;
    },
    close: () => db.close(),
  });
}

async function openClassicLevel(dir: string): Promise<KvPeer> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  return {
    name: "classic-level",
    durability: "sync: true (fsync per write)",
    async put(key, value) {
      await db.put(key, value, { sync: true });
    },
    get: (key) => db.get(key),
    async batch(entries) {
      checkBatch(entries);
      const ops = entries.map((e) => ({ type: "put" as const, key: e.key, value: e.value }));
      await db.batch(ops, { sync: true });
    },
    async scan(prefix, limit) {
      checkLimit(limit);
      const end = prefixEnd(prefix);
      const range = end ? { gte: prefix, lt: end, limit } : { gte: prefix, limit };
      const found = await db.iterator(range).all();
      return found.map(([key, value]) => ({ key, value }));
    },
    close: () => db.close(),
  };
}

/**
 * Opens engine `name` on directory `dir` (created if missing) in durable mode.
 * Throws when ringkv is asked for and src/storage/mod.ts is absent.
 */
export async function openPeer(
  name: PeerName,
  dir: string,
  options: OpenPeerOptions = {},
): Promise<KvPeer> {
  await Deno.mkdir(dir, { recursive: true });
  switch (name) {
    case "ringkv":
      return (await openRingkvStore(dir, options.ringkv)).peer;
    case "deno-kv":
      return await openDenoKv(dir);
    case "sqlite":
      return await openSqlite(dir);
    case "lmdb":
      return await openLmdbPeer(dir);
    case "classic-level":
      return await openClassicLevel(dir);
  }
}

/** Whether `name` is one of {@link peerNames}. */
export function isPeerName(name: string): name is PeerName {
  return (peerNames as readonly string[]).includes(name);
}
