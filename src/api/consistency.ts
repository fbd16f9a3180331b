/**
 * The `consistency` query parameter of reads (GET/HEAD /kv/{key}, GET /kv) and the headers a
 * stale read carries to say how far behind it may be.
 */
import { type KvService, readConsistencies, type ReadConsistency } from "../cluster/mod.ts";
import { percentDecode, utf8OrUndefined } from "./codec.ts";
import { HttpError } from "./errors.ts";

/** Header of a stale read: the highest log index applied by the replica that answered. */
export const appliedIndexHeader = "RingKV-Applied-Index";

/**
 * Header of a stale read: milliseconds since the answering replica last heard from a leader
 * (0 on the leader), or "unknown" when it has heard from none since it started.
 */
export const staleMsHeader = "RingKV-Stale-Ms";

/** Most query parameters looked at on a key read. */
const keyQueryParamsMax = 32;

/** A consistency level from the parameter's text; throws 400 naming the allowed values. */
export function parseConsistency(value: string): ReadConsistency {
  const level = readConsistencies.find((c) => c === value);
  if (level === undefined) {
    throw new HttpError(
      "invalid-parameter",
      `"consistency" must be one of ${readConsistencies.join(", ")} (default linearizable); ` +
        `got ${JSON.stringify(value.slice(0, 64))}`,
    );
  }
  return level;
}

/**
 * The `consistency` of a key read's raw query, or undefined when absent (linearizable).
 * Other parameters are ignored; a malformed, repeated or unknown value is 400.
 */
export function consistencyFromQuery(rawQuery: string): ReadConsistency | undefined {
  if (rawQuery === "") return undefined;
  const parts = rawQuery.split("&", keyQueryParamsMax + 1);
  if (parts.length > keyQueryParamsMax) {
    throw new HttpError("invalid-parameter", `at most ${keyQueryParamsMax} query parameters`);
  }
  let found: string | undefined;
  for (const part of parts) {
    const eq = part.indexOf("=");
    if ((eq < 0 ? part : part.slice(0, eq)) !== "consistency") continue;
    if (found !== undefined) {
      throw new HttpError("invalid-parameter", '"consistency" is given twice');
    }
    const raw = percentDecode(eq < 0 ? "" : part.slice(eq + 1), { plusIsSpace: true });
    const text = raw === undefined ? undefined : utf8OrUndefined(raw);
    if (text === undefined) {
      throw new HttpError("invalid-parameter", '"consistency" has a malformed %-encoding');
    }
    found = text;
  }
  return found === undefined ? undefined : parseConsistency(found);
}

/**
 * The headers of a stale read, sampled now (call it just before the read): the read reflects
 * at least this applied index. Empty for other levels or a service that cannot tell.
 */
export function freshnessHeaders(
  service: KvService,
  consistency: ReadConsistency | undefined,
): Record<string, string> {
  if (consistency !== "stale" || service.replicaFreshness === undefined) return {};
  const f = service.replicaFreshness();
  return {
    [appliedIndexHeader]: String(f.appliedIndex),
    [staleMsHeader]: f.leaderContactAgoMs === null ? "unknown" : String(f.leaderContactAgoMs),
  };
}

/** Sets `headers` on `response` and returns it. */
export function withExtraHeaders(response: Response, headers: Record<string, string>): Response {
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}
