/** What every handler receives besides the Request: the service, the limits, the parsed URL. */
import type { KvService } from "../cluster/mod.ts";

/** Limits the API enforces at the edge, before the service sees a request. */
export interface ApiLimits {
  keyBytesMax: number;
  valueBytesMax: number;
  /** Largest request body (a batch document; a PUT is also bounded by valueBytesMax). */
  bodyBytesMax: number;
  batchOpsMax: number;
  listLimitMax: number;
  /** Longest time a request body may take to arrive (408 past it). Default 30 s. */
  bodyTimeoutMs?: number;
}

/** Shared, per-server state of the handlers. */
export interface ApiState {
  service: KvService;
  limits: ApiLimits;
  /** This node's id, shown in /status. */
  nodeId: string;
  /** Settings shown in /status (no secrets). */
  configSummary: Record<string, unknown>;
  /** performance.now() at start, for uptime. */
  startedAtMs: number;
  /** True once a graceful stop began: /ready answers 503. */
  stopping: boolean;
  /** Requests in progress now (shown in /status). */
  inFlight: () => number;
}

/** What a route handler gets besides the Request. */
export interface RequestContext {
  state: ApiState;
  url: RequestUrl;
}

/** One request's parsed URL: the raw (still percent-encoded) path and query. */
export interface RequestUrl {
  /** The path exactly as sent, e.g. "/kv/a%2Fb". */
  rawPath: string;
  /** The query without "?", exactly as sent; "" when none. */
  rawQuery: string;
}

/**
 * Splits a request URL into raw path and query without normalizing it (the WHATWG URL parser
 * would resolve "." and ".." segments, which are valid key bytes here).
 */
export function splitRequestUrl(url: string): RequestUrl {
  const schemeEnd = url.indexOf("://");
  let pathStart = schemeEnd >= 0 ? url.indexOf("/", schemeEnd + 3) : url.indexOf("/");
  if (pathStart < 0) pathStart = url.length;
  let end = url.indexOf("#", pathStart);
  if (end < 0) end = url.length;
  const queryStart = url.indexOf("?", pathStart);
  if (queryStart >= 0 && queryStart < end) {
    return {
      rawPath: url.slice(pathStart, queryStart) || "/",
      rawQuery: url.slice(queryStart + 1, end),
    };
  }
  return { rawPath: url.slice(pathStart, end) || "/", rawQuery: "" };
}
