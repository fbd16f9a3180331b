/**
 * The read side a KvService shares over one local store: a listing page and the status, in
 * the service's terms (versions are the store's sequence numbers).
 */
import type { Store } from "../storage/types.ts";
import { listRange, prefixEnd } from "./key_range.ts";
import type { KvListOptions, KvListPage, KvStatus } from "./kv_service.ts";

/**
 * One page of `options` read from `store`: at most options.limit entries, `more` when the
 * range holds another. Throws RangeError when options.limit is below 1.
 */
export async function listStore(store: Store, options: KvListOptions): Promise<KvListPage> {
  if (!(options.limit >= 1)) throw new RangeError(`list limit must be >= 1: ${options.limit}`);
  const base = options.prefix !== undefined
    ? { start: options.prefix, end: prefixEnd(options.prefix) }
    : { start: options.start, end: options.end };
  const range = listRange(base, { after: options.after, reverse: options.reverse });
  if (range === undefined) return { entries: [], more: false };
  const scanned = await store.scan({
    start: range.start,
    end: range.end,
    limit: options.limit + 1,
    reverse: options.reverse,
    keysOnly: options.keysOnly,
  });
  const more = scanned.length > options.limit;
  const entries = scanned.slice(0, options.limit).map((e) => ({
    key: e.key,
    value: options.keysOnly ? undefined : e.value,
    version: e.seq,
  }));
  return { entries, more };
}

/** The KvStatus of `store`, from its stats. */
export function storeStatus(store: Store): KvStatus {
  const s = store.stats();
  return {
    version: s.lastSeq,
    keys: s.keys,
    liveBytes: s.liveBytes,
    deadBytes: s.deadBytes,
    diskBytes: s.diskBytes,
    segments: s.segments,
    merges: s.merges,
    cacheHits: s.cacheHits,
    cacheMisses: s.cacheMisses,
    cacheBytes: s.cacheBytes,
  };
}
