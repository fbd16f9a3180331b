/** GET /kv: an ordered page of keys (and values) as JSON with an opaque continuation cursor. */
import type { Bytes, KvListEntry, KvListOptions, ReadConsistency } from "../cluster/mod.ts";
import type { ApiState, RequestContext } from "./context.ts";
import { HttpError } from "./errors.ts";
import { fromBase64Url, percentDecode, toBase64, toBase64Url, utf8OrUndefined } from "./codec.ts";
import { freshnessHeaders, parseConsistency } from "./consistency.ts";

/** Page size when `limit` is not given. */
export const listLimitDefault = 100;

/** Most query parameters accepted on one listing. */
const queryParamsMax = 32;

const knownParams = new Set([
  "prefix",
  "start",
  "end",
  "limit",
  "cursor",
  "keys_only",
  "encoding",
  "reverse",
  "consistency",
]);

/** Parsed GET /kv parameters. */
export interface ListQuery {
  options: KvListOptions;
  encoding: "text" | "base64";
  /** Undefined when not given (linearizable). */
  consistency?: ReadConsistency;
}

/** Query parameters decoded to raw bytes (keys may be any bytes: %FF is 0xFF). */
function parseQueryBytes(rawQuery: string): Map<string, Bytes> {
  const params = new Map<string, Bytes>();
  if (rawQuery === "") return params;
  const parts = rawQuery.split("&");
  if (parts.length > queryParamsMax) {
    throw new HttpError("invalid-parameter", `at most ${queryParamsMax} query parameters`);
  }
  for (const part of parts) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const name = utf8OrUndefined(
      percentDecode(rawName, { plusIsSpace: true }) ?? new Uint8Array([0xff]),
    );
    const value = percentDecode(eq < 0 ? "" : part.slice(eq + 1), { plusIsSpace: true });
    if (name === undefined || value === undefined) {
      throw new HttpError("invalid-parameter", "a query parameter has a malformed %-encoding");
    }
    if (!knownParams.has(name)) continue; // unknown parameters are ignored (forward compatible)
    if (params.has(name)) throw new HttpError("invalid-parameter", `"${name}" is given twice`);
    params.set(name, value);
  }
  return params;
}

function text(params: Map<string, Bytes>, name: string): string | undefined {
  const raw = params.get(name);
  if (raw === undefined) return undefined;
  const value = utf8OrUndefined(raw);
  if (value === undefined) throw new HttpError("invalid-parameter", `"${name}" is not UTF-8`);
  return value;
}

function flag(params: Map<string, Bytes>, name: string): boolean {
  const value = text(params, name);
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "true" || value === "1" || value === "") return true;
  throw new HttpError("invalid-parameter", `"${name}" must be true or false`);
}

function keyParam(
  params: Map<string, Bytes>,
  spec: { name: string; keyBytesMax: number },
): Bytes | undefined {
  const { name, keyBytesMax } = spec;
  const value = params.get(name);
  if (value !== undefined && value.byteLength > keyBytesMax) {
    throw new HttpError(
      "invalid-parameter",
      `"${name}" is longer than the ${keyBytesMax}-byte key limit`,
    );
  }
  return value;
}

function limitParam(params: Map<string, Bytes>, listLimitMax: number): number {
  const raw = text(params, "limit");
  if (raw === undefined) return Math.min(listLimitDefault, listLimitMax);
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) {
    throw new HttpError(
      "invalid-parameter",
      `"limit" must be a whole number >= 1 (at most ${listLimitMax} used)`,
    );
  }
  return Math.min(Number(raw), listLimitMax);
}

/** Parses and validates GET /kv's query; throws HttpError 400 naming the bad parameter. */
export function parseListQuery(rawQuery: string, state: ApiState): ListQuery {
  const { keyBytesMax, listLimitMax } = state.limits;
  const params = parseQueryBytes(rawQuery);
  const prefix = keyParam(params, { name: "prefix", keyBytesMax });
  const start = keyParam(params, { name: "start", keyBytesMax });
  const end = keyParam(params, { name: "end", keyBytesMax });
  if (prefix !== undefined && (start !== undefined || end !== undefined)) {
    throw new HttpError(
      "invalid-parameter",
      '"prefix" excludes "start" and "end"; send one or the other',
    );
  }
  const encoding = text(params, "encoding") ?? "text";
  if (encoding !== "text" && encoding !== "base64") {
    throw new HttpError("invalid-parameter", '"encoding" must be text or base64');
  }
  const cursorText = text(params, "cursor");
  let after: Bytes | undefined;
  if (cursorText !== undefined && cursorText !== "") {
    after = cursorText.length <= keyBytesMax * 2 ? fromBase64Url(cursorText) : undefined;
    if (after === undefined || after.byteLength === 0 || after.byteLength > keyBytesMax) {
      throw new HttpError("invalid-parameter", '"cursor" is not a cursor this server returned');
    }
  }
  const options: KvListOptions = {
    prefix,
    start,
    end,
    after,
    limit: limitParam(params, listLimitMax),
    reverse: flag(params, "reverse"),
    keysOnly: flag(params, "keys_only"),
  };
  const consistencyText = text(params, "consistency");
  const consistency = consistencyText === undefined ? undefined : parseConsistency(consistencyText);
  return { options, encoding, consistency };
}

type Item = { key: string; value?: string; version: number; encoding?: "base64" };

/** One listed entry as JSON; in text mode non-UTF-8 entries fall back to base64, marked. */
export function listItem(entry: KvListEntry, encoding: "text" | "base64"): Item {
  if (encoding === "text") {
    const key = utf8OrUndefined(entry.key);
    const value = entry.value === undefined ? undefined : utf8OrUndefined(entry.value);
    if (key !== undefined && (entry.value === undefined || value !== undefined)) {
      return value === undefined
        ? { key, version: entry.version }
        : { key, value, version: entry.version };
    }
  }
  const item: Item = { key: toBase64(entry.key), version: entry.version };
  if (entry.value !== undefined) item.value = toBase64(entry.value);
  if (encoding === "text") item.encoding = "base64";
  return item;
}

/**
 * GET /kv: 200 {"items": [...], "next": cursor | null}; a stale listing carries the headers
 * of a stale read.
 */
export async function handleList(_request: Request, ctx: RequestContext): Promise<Response> {
  const { state, url } = ctx;
  const query = parseListQuery(url.rawQuery, state);
  const consistency = query.consistency;
  const freshness = freshnessHeaders(state.service, consistency);
  const page = await state.service.list(query.options, consistency && { consistency });
  if (page.entries.length > query.options.limit) {
    throw new Error(
      `service returned ${page.entries.length} entries for limit ${query.options.limit}`,
    );
  }
  const items = page.entries.map((e) => listItem(e, query.encoding));
  const last = page.entries[page.entries.length - 1];
  const next = page.more && last !== undefined ? toBase64Url(last.key) : null;
  return new Response(JSON.stringify({ items, next }), {
    status: 200,
    headers: { "content-type": "application/json", ...freshness },
  });
}
