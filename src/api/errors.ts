/**
 * HTTP errors as RFC 9457 problem details (`application/problem+json`): the one place that
 * decides each problem's status, type and title, and maps service errors by their `code`.
 */

/** Content type of every error response. */
export const problemContentType = "application/problem+json";

/** Prefix of every problem `type`; the suffix is the slug listed in docs/http_api.md. */
export const problemTypeBase = "urn:ringkv:problem:";

/** Every problem ringkv answers with: slug -> status and title. */
export const problems = {
  "bad-request": { status: 400, title: "Bad request" },
  "invalid-key": { status: 400, title: "Invalid key" },
  "invalid-parameter": { status: 400, title: "Invalid query parameter" },
  "invalid-header": { status: 400, title: "Invalid header" },
  "invalid-body": { status: 400, title: "Invalid request body" },
  "unauthorized": { status: 401, title: "Missing or invalid bearer token" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "request-timeout": { status: 408, title: "Request body timeout" },
  "conflict": { status: 409, title: "Conflict with the cluster's state" },
  "condition-failed": { status: 412, title: "Precondition failed" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "key-too-long": { status: 414, title: "Key too long" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "internal": { status: 500, title: "Internal error" },
  "overloaded": { status: 503, title: "Too many requests in progress" },
  "unavailable": { status: 503, title: "Service unavailable" },
  "no-leader": { status: 503, title: "No leader; the request was not applied" },
  "outcome-unknown": { status: 503, title: "Outcome unknown; the write may have been applied" },
  "insufficient-storage": { status: 507, title: "Insufficient storage" },
} as const;

/** The slug of a problem type. */
export type ProblemSlug = keyof typeof problems;

/** Extra members of a problem body (op_index, current_version ...). */
export type ProblemExtra = Record<string, string | number | boolean | null>;

/** An error a handler throws to answer with a problem; never carries a stack to the client. */
export class HttpError extends Error {
  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
    readonly options: { extra?: ProblemExtra; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "HttpError";
  }
}

/** Builds a problem+json response for a slug with a human detail that says what to do next. */
export function problemResponse(
  slug: ProblemSlug,
  detail: string,
  options: { extra?: ProblemExtra; headers?: Record<string, string> } = {},
): Response {
  const { status, title } = problems[slug];
  const body = { type: problemTypeBase + slug, title, status, detail, ...options.extra };
  const headers = new Headers(options.headers);
  headers.set("content-type", problemContentType);
  return new Response(JSON.stringify(body), { status, headers });
}

/** The response for an HttpError. */
export function httpErrorResponse(error: HttpError): Response {
  return problemResponse(error.slug, error.detail, error.options);
}

const retryAfter = { "retry-after": "1" };

/**
 * Maps an error thrown by the KV service (or storage below it) to a problem, by its stable
 * `code`. Returns undefined for an error without a known code: the caller answers 500.
 */
export function serviceErrorResponse(error: unknown): Response | undefined {
  const code = typeof error === "object" && error !== null
    ? (error as { code?: unknown }).code
    : undefined;
  if (typeof code !== "string") return undefined;
  const message = (error as Error).message;
  switch (code) {
    case "key_invalid":
      return problemResponse("invalid-key", message);
    case "value_too_large":
    case "batch_too_large":
      return problemResponse("payload-too-large", message);
    case "condition_failed":
      return conditionFailedResponse(error as { opIndex?: number; currentSeq?: number });
    case "disk_full":
      return problemResponse("insufficient-storage", "the disk is full; free space and retry");
    case "quota_exceeded":
      return problemResponse(
        "insufficient-storage",
        "the data directory reached its quota (--disk-quota); delete keys or raise the quota",
      );
    case "closed":
    case "locked":
    case "unavailable":
      return problemResponse("unavailable", "the node is not serving now; retry shortly", {
        headers: retryAfter,
      });
    case "no_leader":
      return problemResponse(
        "no-leader",
        `${message}; it had no effect: retry after Retry-After`,
        { headers: retryAfter },
      );
    case "outcome_unknown":
      return problemResponse(
        "outcome-unknown",
        `${message}; read the key before retrying a non-idempotent write`,
        { headers: retryAfter },
      );
    case "io_error":
      return problemResponse(
        "internal",
        "a storage I/O error failed the request; see the node log",
      );
    case "corruption":
      return problemResponse("internal", "a damaged record was found; see the node log");
    default:
      return undefined;
  }
}

function conditionFailedResponse(error: { opIndex?: number; currentSeq?: number }): Response {
  const extra: ProblemExtra = {};
  if (typeof error.opIndex === "number") extra.op_index = error.opIndex;
  if (typeof error.currentSeq === "number") extra.current_version = error.currentSeq;
  return problemResponse(
    "condition-failed",
    "the key's current version does not match the condition; read it and retry",
    { extra },
  );
}
