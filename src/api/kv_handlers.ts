/** Handlers of /kv/{key}: GET, HEAD, PUT, DELETE with versions as ETags and conditions. */
import type { Bytes, KvCondition } from "../cluster/mod.ts";
import type { RequestContext, RequestUrl } from "./context.ts";
import { HttpError, problemResponse } from "./errors.ts";
import { readBodyBounded } from "./limits.ts";
import { percentDecode } from "./codec.ts";
import { consistencyFromQuery, freshnessHeaders, withExtraHeaders } from "./consistency.ts";

/** Length of "/kv/", where a key's path starts. */
export const keyPathOffset = 4;

/** The ETag of a version: the decimal number in double quotes. */
export function etag(version: number): string {
  return `"${version}"`;
}

/**
 * The key of a /kv/{key} request as raw bytes. Throws 414 (key-too-long) past keyBytesMax,
 * checked on the encoded length first so a huge path is never decoded, and 400 for an empty
 * key or a malformed percent-encoding.
 */
export function keyFromPath(url: RequestUrl, keyBytesMax: number): Bytes {
  const encoded = url.rawPath.slice(keyPathOffset);
  if (encoded.length === 0) {
    throw new HttpError("invalid-key", "the key is empty; use /kv/{key} with at least one byte");
  }
  if (encoded.length > keyBytesMax * 3) throw keyTooLong(keyBytesMax);
  const key = percentDecode(encoded);
  if (key === undefined) {
    throw new HttpError("invalid-key", "the key has a '%' not followed by two hex digits");
  }
  if (key.byteLength > keyBytesMax) throw keyTooLong(keyBytesMax);
  return key;
}

function keyTooLong(keyBytesMax: number): HttpError {
  return new HttpError("key-too-long", `keys are at most ${keyBytesMax} bytes`, {
    extra: { limit_bytes: keyBytesMax },
  });
}

/**
 * Response headers are set on the built Response rather than passed in its init: converting a
 * ResponseInit's headers dictionary costs about 2-3 µs a response, two `set` calls about 0.4.
 */
export function withHeaders(response: Response, contentType: string, version: number): Response {
  response.headers.set("content-type", contentType);
  response.headers.set("etag", etag(version));
  return response;
}

const versionTag = /^"(\d{1,16})"$/;

/**
 * A version from an entity tag `"<n>"` (the form ETag carries), or undefined when the tag
 * is not one.
 */
export function parseVersionTag(tag: string): number | undefined {
  const match = versionTag.exec(tag.trim());
  if (match === null) return undefined;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? version : undefined;
}

/**
 * The write condition of If-Match / If-None-Match, or undefined when neither is sent.
 * If-Match: "<n>" = compare-and-set; If-Match: * = the key exists; If-None-Match: * = create
 * only. Anything else (lists, weak tags, both headers) is a 400.
 */
export function conditionFromHeaders(headers: Headers): KvCondition | undefined {
  const ifMatch = headers.get("if-match");
  const ifNoneMatch = headers.get("if-none-match");
  if (ifMatch !== null && ifNoneMatch !== null) {
    throw new HttpError("invalid-header", "send If-Match or If-None-Match, not both");
  }
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() !== "*") {
      throw new HttpError("invalid-header", 'on writes If-None-Match accepts only "*"');
    }
    return { absent: true };
  }
  if (ifMatch === null) return undefined;
  if (ifMatch.trim() === "*") return { present: true };
  const version = parseVersionTag(ifMatch);
  if (version === undefined) {
    throw new HttpError("invalid-header", 'If-Match must be one version tag like "42", or *');
  }
  return { version };
}

/**
 * GET and HEAD /kv/{key}: the value bytes with their version, 404 when missing.
 * `?consistency=linearizable|lease|stale` picks how fresh the read must be; a stale read's
 * answer (404 included) says how far behind it may be in RingKV-Applied-Index and
 * RingKV-Stale-Ms.
 */
export async function handleGet(request: Request, ctx: RequestContext): Promise<Response> {
  const { state, url } = ctx;
  const key = keyFromPath(url, state.limits.keyBytesMax);
  const consistency = consistencyFromQuery(url.rawQuery);
  const freshness = freshnessHeaders(state.service, consistency);
  const found = await state.service.get(key, consistency && { consistency });
  if (found === undefined) {
    return problemResponse("not-found", "no such key", { headers: freshness });
  }
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null && parseVersionTag(ifNoneMatch) === found.version) {
    return new Response(null, {
      status: 304,
      headers: { etag: etag(found.version), ...freshness },
    });
  }
  if (request.method === "HEAD") {
    return new Response(null, {
      status: 200,
      headers: {
        "content-type": "application/octet-stream",
        "etag": etag(found.version),
        "content-length": String(found.value.byteLength),
        ...freshness,
      },
    });
  }
  return withExtraHeaders(
    withHeaders(
      new Response(found.value as Uint8Array<ArrayBuffer>),
      "application/octet-stream",
      found.version,
    ),
    freshness,
  );
}

/** PUT /kv/{key}: 201 created or 200 replaced, ETag and {"version": n}; 412 on a condition. */
export async function handlePut(request: Request, ctx: RequestContext): Promise<Response> {
  const { state, url } = ctx;
  const { keyBytesMax, valueBytesMax, bodyBytesMax } = state.limits;
  const key = keyFromPath(url, keyBytesMax);
  const condition = conditionFromHeaders(request.headers);
  const value = await readBodyBounded(request, Math.min(valueBytesMax, bodyBytesMax), {
    timeoutMs: state.limits.bodyTimeoutMs,
  });
  const result = await state.service.put(key, value, { condition });
  return withHeaders(
    new Response(JSON.stringify({ version: result.version }), {
      status: result.created ? 201 : 200,
    }),
    "application/json",
    result.version,
  );
}

/** DELETE /kv/{key}: 204 with the deletion's version as ETag; 404 when missing; 412. */
export async function handleDelete(request: Request, ctx: RequestContext): Promise<Response> {
  const { state, url } = ctx;
  const key = keyFromPath(url, state.limits.keyBytesMax);
  const condition = conditionFromHeaders(request.headers);
  if (condition !== undefined && "absent" in condition) {
    throw new HttpError("invalid-header", "If-None-Match is not meaningful on DELETE");
  }
  const version = await state.service.delete(key, { condition });
  if (version === undefined) return problemResponse("not-found", "no such key");
  return new Response(null, { status: 204, headers: { "etag": etag(version) } });
}
