/** Errors thrown by the ringkv client; each says whether the request may have had an effect. */

/** An RFC 9457 problem document as ringkv sends it (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Extra members the server adds (for example `op_index` on a failed batch). */
  [member: string]: unknown;
}

/** Base class of every error the client throws. */
export class RingkvError extends Error {
  /**
   * True when the request may or may not have been applied (timeout or broken connection
   * after the request was sent, or a 503 that says the outcome is unknown). Read the key
   * again before deciding what to do.
   */
  readonly outcomeUnknown: boolean;

  constructor(message: string, options: { outcomeUnknown?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "RingkvError";
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

/** The server answered with an error status; `problem` is its problem+json body. */
export class HttpError extends RingkvError {
  /** HTTP status code of the answer. */
  readonly status: number;
  /** The problem document (synthesised from the status when the body was not one). */
  readonly problem: Problem;
  /** The node that answered. */
  readonly url: string;

  constructor(problem: Problem, options: { url: string; outcomeUnknown?: boolean }) {
    const detail = problem.detail ? `: ${problem.detail}` : "";
    super(`${problem.status} ${problem.title}${detail}`, {
      outcomeUnknown: options.outcomeUnknown,
    });
    this.name = "HttpError";
    this.status = problem.status;
    this.problem = problem;
    this.url = options.url;
  }
}

/** 412: an `ifMatch` / `ifNoneMatch` condition did not hold; nothing was written. */
export class ConditionFailedError extends HttpError {
  /** For a batch: index of the op whose condition failed, when the server says. */
  readonly opIndex: number | undefined;
  /** The key's version at the time of the failure, when the server says. */
  readonly currentVersion: number | undefined;

  constructor(problem: Problem, options: { url: string }) {
    super(problem, options);
    this.name = "ConditionFailedError";
    const index = problem["op_index"];
    this.opIndex = typeof index === "number" ? index : undefined;
    const current = problem["current_version"];
    this.currentVersion = typeof current === "number" ? current : undefined;
  }
}

/** No node could be reached (connection refused, reset, DNS, TLS ...). */
export class ConnectionError extends RingkvError {
  /** The node last tried. */
  readonly url: string;

  constructor(message: string, options: { url: string; outcomeUnknown: boolean; cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
    this.url = options.url;
  }
}

/** The request took longer than its `timeoutMs`. */
export class TimeoutError extends RingkvError {
  /** The node last tried. */
  readonly url: string;
  /** The per-attempt timeout that expired. */
  readonly timeoutMs: number;

  constructor(
    message: string,
    options: { url: string; timeoutMs: number; outcomeUnknown: boolean },
  ) {
    super(message, options);
    this.name = "TimeoutError";
    this.url = options.url;
    this.timeoutMs = options.timeoutMs;
  }
}

/** Builds a Problem from any error answer: the body when it is problem+json, else the status. */
export async function problemFromResponse(response: Response): Promise<Problem> {
  const fallback: Problem = {
    type: "about:blank",
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: "",
  };
  let text: string;
  try {
    text = await response.text();
  } catch {
    return fallback;
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (contentType.includes("json")) {
    try {
      const body: unknown = JSON.parse(text);
      if (body !== null && typeof body === "object" && !Array.isArray(body)) {
        const doc = body as Record<string, unknown>;
        return {
          ...doc,
          type: typeof doc.type === "string" ? doc.type : fallback.type,
          title: typeof doc.title === "string" ? doc.title : fallback.title,
          status: response.status,
          detail: typeof doc.detail === "string" ? doc.detail : "",
        };
      }
    } catch {
      // Not JSON after all: fall through to the plain text detail.
    }
  }
  return { ...fallback, detail: text.slice(0, 500).trim() };
}
