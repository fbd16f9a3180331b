/** The ringkv HTTP client: typed calls over fetch, usable in Deno, Node and browsers. */
import {
  type BytesLike,
  encodeKeyPath,
  fromBase64,
  isDotSegmentKey,
  toBase64,
  toBytes,
} from "./bytes.ts";
import {
  asClusterView,
  asLeaderTransfer,
  asMemberChange,
  type ClusterView,
  type LeaderTransfer,
  type MemberChange,
} from "./cluster.ts";
import { ConditionFailedError, HttpError, problemFromResponse, RingkvError } from "./errors.ts";
import { type CallOptions, type Reply, Requester, type RequestSpec } from "./requester.ts";

/** Where the client sends requests when no URL is given. */
export const defaultUrl = "http://127.0.0.1:7070";

/** Settings of a {@link RingkvClient}; every field has a default. */
export interface ClientOptions {
  /** One node URL or several (tried in turn when one fails). Default {@link defaultUrl}. */
  url?: string | string[];
  /** Bearer token sent with every request. */
  token?: string;
  /** Time limit of one attempt, including reading the answer. Default 10 000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 4. */
  retriesMax?: number;
  /** First backoff bound; doubles per retry (full jitter). Default 25 ms. */
  backoffBaseMs?: number;
  /** Largest backoff. Default 2 000 ms. */
  backoffMaxMs?: number;
  /** Largest wait honoured from a Retry-After header. Default 5 000 ms. */
  retryAfterMaxMs?: number;
  /** Largest answer read. Default 80 MiB. */
  responseBytesMax?: number;
  /** fetch implementation (for tests or custom agents). Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Source of randomness for jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}

/** Options every call accepts: its own timeout and an abort signal. */
export type RequestOptions = CallOptions;

/**
 * How fresh a read must be: "linearizable" (the server's default) sees every write
 * acknowledged before it; "lease" gives the same from the leader's lease, without a quorum
 * round; "stale" is any replica's local state at once, maybe behind.
 */
export type ReadConsistency = "linearizable" | "lease" | "stale";

/** Options of a read. */
export interface GetOptions extends RequestOptions {
  /** Default: the server's (linearizable). */
  consistency?: ReadConsistency;
}

/** How far behind a stale read may be, as the answering replica reported it. */
export interface ReadFreshness {
  /** Highest log index the replica had applied when it read. */
  appliedIndex: number;
  /** Milliseconds since it last heard from a leader; null when it never did. */
  staleMs: number | null;
}

/** A value with the version that wrote it. */
export interface VersionedValue {
  value: Uint8Array;
  version: number;
  /** Set on stale reads from a server that reports it. */
  freshness?: ReadFreshness;
}

/** A value as text (UTF-8 decoded) with its version. */
export interface VersionedText {
  value: string;
  version: number;
  /** Set on stale reads from a server that reports it. */
  freshness?: ReadFreshness;
}

/** Result of a put. */
export interface PutResult {
  /** Version the write got (the key's new ETag). */
  version: number;
  /** True when the key did not exist before. */
  created: boolean;
}

/** Conditions and options of a put. */
export interface PutOptions extends RequestOptions {
  /** Write only if the key's current version is this one (compare-and-set). */
  ifMatch?: number;
  /** `"*"`: write only if the key does not exist (create only). */
  ifNoneMatch?: "*";
}

/** Conditions and options of a delete. */
export interface DeleteOptions extends RequestOptions {
  /** Delete only if the key's current version is this one. */
  ifMatch?: number;
}

/** Result of a delete. */
export interface DeleteResult {
  /** False when the key did not exist. */
  deleted: boolean;
  /** Version of the deletion, when the server gave one. */
  version: number | null;
}

/** What to list: a prefix, or a [start, end) range; at most `limit` items per page. */
export interface ListOptions extends RequestOptions {
  prefix?: BytesLike;
  start?: BytesLike;
  end?: BytesLike;
  /** Items per page (the server caps it). */
  limit?: number;
  /** Cursor from a previous page's `next`. */
  cursor?: string;
  /** Leave values out. */
  keysOnly?: boolean;
  /** Descending key order. */
  reverse?: boolean;
  /** Default: the server's (linearizable). */
  consistency?: ReadConsistency;
}

/** One listed key. */
export interface ListItem {
  key: Uint8Array;
  /** Null when listed with `keysOnly`. */
  value: Uint8Array | null;
  version: number;
}

/** One page of a listing; `next` is null on the last page. */
export interface ListPage {
  items: ListItem[];
  next: string | null;
}

/** Options of {@link RingkvClient.scan}. */
export interface ScanOptions extends Omit<ListOptions, "cursor"> {
  /** Stop after this many items. Default 1 000 000. */
  itemsMax?: number;
}

/** One operation of an atomic batch. */
export type BatchOp =
  | { op: "put"; key: BytesLike; value: BytesLike; ifMatch?: number; ifNoneMatch?: "*" }
  | { op: "delete"; key: BytesLike; ifMatch?: number };

/** Result of a batch: the version all its writes share. */
export interface BatchResult {
  version: number;
}

/** A node's `/status` document (fields as the server names them). */
export interface NodeStatus {
  id?: string;
  version?: unknown;
  uptime_seconds?: number;
  keys?: number;
  live_bytes?: number;
  dead_bytes?: number;
  disk_bytes?: number;
  segments?: number;
  cache?: { hits?: number; misses?: number; bytes?: number; hit_rate?: number };
  config?: Record<string, unknown>;
  [member: string]: unknown;
}

const textDecoder = new TextDecoder();
const scanItemsMaxDefault = 1_000_000;

/**
 * A client of one ringkv cluster. Reads and unconditional writes are retried on 503 and
 * connection errors with backoff, rotating over the node URLs; conditional writes are
 * retried only when the first attempt certainly had no effect. Throws the errors of
 * ./errors.ts.
 */
export class RingkvClient {
  #requester: Requester;

  constructor(options: ClientOptions = {}) {
    const urls = (Array.isArray(options.url) ? options.url : [options.url ?? defaultUrl])
      .map(normalizeUrl);
    this.#requester = new Requester({
      urls,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 10_000,
      responseBytesMax: options.responseBytesMax ?? 80 * 1024 * 1024,
      retry: {
        retriesMax: options.retriesMax ?? 4,
        backoffBaseMs: options.backoffBaseMs ?? 25,
        backoffMaxMs: options.backoffMaxMs ?? 2_000,
        retryAfterMaxMs: options.retryAfterMaxMs ?? 5_000,
      },
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      random: options.random ?? Math.random,
    });
  }

  /** The node the next request goes to. */
  get url(): string {
    return this.#requester.currentUrl;
  }

  /**
   * Reads a key: its bytes and version, or null when it does not exist. A stale read also
   * says how far behind it may be (`freshness`).
   */
  async get(key: BytesLike, options: GetOptions = {}): Promise<VersionedValue | null> {
    const query = options.consistency === undefined
      ? ""
      : "?consistency=" + consistencyParam(options.consistency);
    const reply = await this.#send({
      method: "GET",
      path: keyPath(key) + query,
      idempotency: "idempotent",
    }, options);
    if (reply.status === 404) return null;
    await expectStatus(reply, [200]);
    const found: VersionedValue = { value: reply.body, version: versionOf(reply) };
    const freshness = freshnessOf(reply);
    if (freshness !== undefined) found.freshness = freshness;
    return found;
  }

  /** Reads a key as UTF-8 text (invalid bytes become U+FFFD), or null when missing. */
  async getText(key: BytesLike, options: GetOptions = {}): Promise<VersionedText | null> {
    const found = await this.get(key, options);
    if (found === null) return null;
    const text: VersionedText = { value: textDecoder.decode(found.value), version: found.version };
    if (found.freshness !== undefined) text.freshness = found.freshness;
    return text;
  }

  /** Writes a key; throws ConditionFailedError when `ifMatch`/`ifNoneMatch` does not hold. */
  async put(key: BytesLike, value: BytesLike, options: PutOptions = {}): Promise<PutResult> {
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    addConditions(headers, options);
    const reply = await this.#send({
      method: "PUT",
      path: keyPath(key),
      headers,
      body: toBytes(value),
      idempotency: isConditional(options) ? "conditional" : "idempotent",
    }, options);
    await expectStatus(reply, [200, 201, 204]);
    return { version: versionOf(reply), created: reply.status === 201 };
  }

  /** Deletes a key; `deleted` is false when it did not exist. Throws on a failed `ifMatch`. */
  async delete(key: BytesLike, options: DeleteOptions = {}): Promise<DeleteResult> {
    const headers: Record<string, string> = {};
    addConditions(headers, options);
    const reply = await this.#send({
      method: "DELETE",
      path: keyPath(key),
      headers,
      idempotency: isConditional(options) ? "conditional" : "idempotent",
    }, options);
    if (reply.status === 404) return { deleted: false, version: null };
    await expectStatus(reply, [200, 204]);
    return { deleted: true, version: versionOf(reply, { optional: true }) };
  }

  /** Lists one page of keys in order; pass `next` back as `cursor` for the following page. */
  async list(options: ListOptions = {}): Promise<ListPage> {
    const reply = await this.#send({
      method: "GET",
      path: "/kv?" + listQuery(options),
      idempotency: "idempotent",
    }, options);
    await expectStatus(reply, [200]);
    return parseListPage(reply.body);
  }

  /** Iterates over every listed item, page after page, up to `itemsMax`. */
  async *scan(options: ScanOptions = {}): AsyncGenerator<ListItem> {
    const itemsMax = options.itemsMax ?? scanItemsMaxDefault;
    let cursor: string | undefined;
    let yielded = 0;
    while (yielded < itemsMax) {
      const limit = Math.min(options.limit ?? 1000, itemsMax - yielded);
      const page = await this.list({ ...options, limit, cursor });
      for (const item of page.items) {
        if (yielded >= itemsMax) return;
        yield item;
        yielded++;
      }
      if (page.next === null || page.items.length === 0) return;
      if (page.next === cursor) throw new RingkvError("the server repeated a list cursor");
      cursor = page.next;
    }
  }

  /** Applies puts and deletes atomically: all or nothing. A failed condition names its op. */
  async batch(ops: BatchOp[], options: RequestOptions = {}): Promise<BatchResult> {
    if (ops.length === 0) throw new TypeError("a batch needs at least one op");
    const conditional = ops.some((op) => op.ifMatch !== undefined || "ifNoneMatch" in op);
    const reply = await this.#send({
      method: "POST",
      path: "/batch",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ops: ops.map(batchOpJson) }),
      idempotency: conditional ? "conditional" : "idempotent",
    }, options);
    await expectStatus(reply, [200]);
    const body = parseJson(reply.body) as { version?: unknown };
    if (typeof body.version !== "number") throw malformed("batch answer without a version");
    return { version: body.version };
  }

  /** The node's `/status` document. */
  async status(options: RequestOptions = {}): Promise<NodeStatus> {
    const reply = await this.#send(
      { method: "GET", path: "/status", idempotency: "idempotent" },
      options,
    );
    await expectStatus(reply, [200]);
    return parseJson(reply.body) as NodeStatus;
  }

  /** `/health`: resolves with the node's answer when its process is alive. */
  async health(options: RequestOptions = {}): Promise<{ status: string }> {
    const reply = await this.#send(
      { method: "GET", path: "/health", idempotency: "idempotent" },
      options,
    );
    await expectStatus(reply, [200]);
    return parseJson(reply.body) as { status: string };
  }

  /** `/ready`: true when the node can serve writes, false when it answers 503. One attempt. */
  async ready(options: RequestOptions = {}): Promise<boolean> {
    try {
      const reply = await this.#send(
        { method: "GET", path: "/ready", idempotency: "idempotent", retry: false },
        options,
      );
      await expectStatus(reply, [200]);
      return true;
    } catch (error) {
      if (error instanceof HttpError && error.status === 503) return false;
      throw error;
    }
  }

  /**
   * `GET /cluster`: members, leader, term and each member's indexes and lag, as the leader
   * sees them. Throws HttpError 404 when the node does not run in a cluster.
   */
  async cluster(options: RequestOptions = {}): Promise<ClusterView> {
    const reply = await this.#send(
      { method: "GET", path: "/cluster", idempotency: "idempotent" },
      options,
    );
    await expectStatus(reply, [200]);
    const view = asClusterView(parseJson(reply.body));
    if (view === undefined) throw malformed("/cluster answer without members");
    return view;
  }

  /** Adds node `id` (its peer address `peer`) as a learner; a no-op when it is a member. */
  async addMember(id: string, peer: string, options: RequestOptions = {}): Promise<MemberChange> {
    return await this.#memberCall("POST", "/cluster/members", { id, peer }, options);
  }

  /**
   * Promotes learner `id` to voter. Throws HttpError 409 (problem `reason` "lagging", with
   * `lag`) while it is still catching up.
   */
  async promoteMember(id: string, options: RequestOptions = {}): Promise<MemberChange> {
    return await this.#memberCall("POST", "/cluster/members", { id, role: "voter" }, options);
  }

  /** Removes member `id` (a leader hands leadership over first). 404 when not a member. */
  async removeMember(id: string, options: RequestOptions = {}): Promise<MemberChange> {
    const path = `/cluster/members/${encodeURIComponent(id)}`;
    return await this.#memberCall("DELETE", path, undefined, options);
  }

  /** Hands leadership to voter `id`, or to the most caught-up voter when `id` is omitted. */
  async transferLeader(id?: string, options: RequestOptions = {}): Promise<LeaderTransfer> {
    const reply = await this.#send({
      method: "POST",
      path: "/cluster/leader",
      headers: { "content-type": "application/json" },
      body: id === undefined ? "" : JSON.stringify({ id }),
      // Without a target a retry would move leadership again.
      idempotency: id === undefined ? "conditional" : "idempotent",
    }, options);
    await expectStatus(reply, [200]);
    const transfer = asLeaderTransfer(parseJson(reply.body));
    if (transfer === undefined) throw malformed("/cluster/leader answer without a leader");
    return transfer;
  }

  async #memberCall(
    method: "POST" | "DELETE",
    path: string,
    body: Record<string, string> | undefined,
    options: RequestOptions,
  ): Promise<MemberChange> {
    const reply = await this.#send({
      method,
      path,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A removal retried after it took effect would answer 404: not retried blindly.
      idempotency: method === "POST" ? "idempotent" : "conditional",
    }, options);
    await expectStatus(reply, [200]);
    const change = asMemberChange(parseJson(reply.body));
    if (change === undefined) throw malformed(`${path} answer without a member`);
    return change;
  }

  #send(spec: RequestSpec, options: RequestOptions): Promise<Reply> {
    return this.#requester.send(spec, { timeoutMs: options.timeoutMs, signal: options.signal });
  }
}

function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(url)} (expected e.g. ${defaultUrl})`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`unsupported URL scheme ${parsed.protocol} in ${url}: use http or https`);
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, "");
}

function keyPath(key: BytesLike): string {
  const bytes = toBytes(key);
  if (bytes.length === 0) throw new TypeError("a key needs at least one byte");
  if (isDotSegmentKey(bytes)) {
    throw new TypeError(
      'the keys "." and ".." cannot travel in a URL path; use batch() to write them and list() to read them',
    );
  }
  return "/kv/" + encodeKeyPath(bytes);
}

function isConditional(options: PutOptions): boolean {
  return options.ifMatch !== undefined || options.ifNoneMatch !== undefined;
}

function addConditions(headers: Record<string, string>, options: PutOptions): void {
  if (options.ifMatch !== undefined) {
    if (!Number.isSafeInteger(options.ifMatch) || options.ifMatch < 0) {
      throw new TypeError(
        `ifMatch must be a version (a non-negative integer), got ${options.ifMatch}`,
      );
    }
    headers["if-match"] = `"${options.ifMatch}"`;
  }
  if (options.ifNoneMatch !== undefined) {
    if (options.ifNoneMatch !== "*") throw new TypeError('ifNoneMatch accepts only "*"');
    headers["if-none-match"] = "*";
  }
}

function listQuery(options: ListOptions): string {
  // Key bounds are percent-encoded bytes: the server decodes them to raw bytes (%FF is 0xFF).
  const parts: string[] = [];
  const add = (name: string, value: string) => parts.push(`${name}=${value}`);
  if (options.prefix !== undefined) add("prefix", encodeKeyPath(toBytes(options.prefix)));
  if (options.start !== undefined) add("start", encodeKeyPath(toBytes(options.start)));
  if (options.end !== undefined) add("end", encodeKeyPath(toBytes(options.end)));
  if (options.limit !== undefined) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 1) {
      throw new TypeError(`limit must be a positive integer, got ${options.limit}`);
    }
    add("limit", String(options.limit));
  }
  if (options.cursor !== undefined) add("cursor", encodeURIComponent(options.cursor));
  if (options.keysOnly) add("keys_only", "true");
  if (options.reverse) add("reverse", "true");
  if (options.consistency !== undefined) add("consistency", consistencyParam(options.consistency));
  return parts.join("&");
}

const consistencies: readonly ReadConsistency[] = ["linearizable", "lease", "stale"];

function consistencyParam(consistency: ReadConsistency): string {
  if (!consistencies.includes(consistency)) {
    throw new TypeError(
      `consistency must be one of ${consistencies.join(", ")}, got ${JSON.stringify(consistency)}`,
    );
  }
  return consistency;
}

/** The freshness headers of a stale read, when the server sent them. */
function freshnessOf(reply: Reply): ReadFreshness | undefined {
  const applied = reply.headers.get("ringkv-applied-index");
  if (applied === null || !/^\d{1,16}$/.test(applied)) return undefined;
  const stale = reply.headers.get("ringkv-stale-ms");
  const staleMs = stale !== null && /^\d{1,16}$/.test(stale) ? Number(stale) : null;
  return { appliedIndex: Number(applied), staleMs };
}

function parseListPage(body: Uint8Array): ListPage {
  const doc = parseJson(body) as { items?: unknown; next?: unknown };
  if (!Array.isArray(doc.items)) throw malformed("list answer without items");
  const items = doc.items.map((raw): ListItem => {
    const item = raw as { key?: unknown; value?: unknown; version?: unknown; encoding?: unknown };
    if (typeof item.key !== "string") throw malformed("list item without a key");
    const decode = item.encoding === "base64" ? fromBase64 : toBytes;
    return {
      key: decode(item.key),
      value: typeof item.value === "string" ? decode(item.value) : null,
      version: typeof item.version === "number" ? item.version : 0,
    };
  });
  const next = typeof doc.next === "string" && doc.next !== "" ? doc.next : null;
  return { items, next };
}

function batchOpJson(op: BatchOp): Record<string, unknown> {
  const json: Record<string, unknown> = {
    op: op.op,
    key: toBase64(toBytes(op.key)),
    encoding: "base64",
  };
  if (op.op === "put") json.value = toBase64(toBytes(op.value));
  else if (op.op !== "delete") throw new TypeError(`unknown batch op ${JSON.stringify(op)}`);
  if (op.ifMatch !== undefined) json.if_match = `"${op.ifMatch}"`;
  if (op.op === "put" && op.ifNoneMatch !== undefined) json.if_none_match = op.ifNoneMatch;
  return json;
}

function versionOf(reply: Reply, options: { optional?: boolean } = {}): number {
  const etag = reply.headers.get("etag");
  const match = etag?.match(/^(?:W\/)?"?(\d+)"?$/);
  if (match) return Number(match[1]);
  const body = reply.body.length > 0 ? tryParseJson(reply.body) : undefined;
  const version = (body as { version?: unknown } | undefined)?.version;
  if (typeof version === "number") return version;
  if (options.optional) return -1;
  throw malformed(`answer from ${reply.url} carries no version (ETag ${etag})`);
}

async function expectStatus(reply: Reply, expected: number[]): Promise<void> {
  if (expected.includes(reply.status)) return;
  const response = new Response(reply.body.length > 0 ? (reply.body as BodyInit) : null, {
    status: reply.status,
    headers: reply.headers,
  });
  const problem = await problemFromResponse(response);
  if (reply.status === 412) throw new ConditionFailedError(problem, { url: reply.url });
  throw new HttpError(problem, { url: reply.url });
}

function parseJson(body: Uint8Array): unknown {
  const parsed = tryParseJson(body);
  if (parsed === undefined) throw malformed("answer is not JSON");
  return parsed;
}

function tryParseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(textDecoder.decode(body));
  } catch {
    return undefined;
  }
}

function malformed(what: string): RingkvError {
  return new RingkvError(`unexpected answer from the server: ${what}`);
}
