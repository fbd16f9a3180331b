/** How the CLI shows bytes and errors: readable text, exit codes, messages that say what to do. */
import {
  ConditionFailedError,
  ConnectionError,
  decodeUtf8,
  HttpError,
  TimeoutError,
  toBase64,
} from "../client/mod.ts";

/** Exit codes of every CLI command. */
export const exitCode = {
  ok: 0,
  /** The key does not exist, or a condition (--if-match, --if-none-match) did not hold. */
  notFound: 1,
  /** The command line (or the request it makes) is wrong; the message says how. */
  usage: 2,
  /** The node failed, refused, or could not be reached. */
  server: 3,
} as const;

/** Raised for a wrong command line; the message is shown with a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Bytes as a readable line: UTF-8 text as is, other bytes (and control characters) as \xHH,
 * so a key always shows on one line and distinct keys never look the same.
 */
export function displayBytes(bytes: Uint8Array): string {
  const text = decodeUtf8(bytes);
  if (text !== null) {
    let out = "";
    for (const c of text) {
      const code = c.codePointAt(0) ?? 0;
      if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
      else out += c === "\\" ? "\\\\" : c;
    }
    return out;
  }
  let out = "";
  for (const byte of bytes) {
    if (byte === 0x5c) out += "\\\\";
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += "\\x" + byte.toString(16).padStart(2, "0");
  }
  return out;
}

/** Bytes for JSON output: text when valid UTF-8, else base64, with which one it is. */
export function jsonBytes(bytes: Uint8Array): { text: string; encoding: "text" | "base64" } {
  const text = decodeUtf8(bytes);
  return text === null ? { text: toBase64(bytes), encoding: "base64" } : { text, encoding: "text" };
}

/** Maps any error of a command to its exit code and a message for the user. */
export function describeError(error: unknown): { code: number; message: string } {
  if (error instanceof UsageError) {
    return { code: exitCode.usage, message: `${error.message}\nSee --help for usage.` };
  }
  if (error instanceof ConditionFailedError) {
    const current = error.currentVersion === undefined
      ? ""
      : ` (current version ${error.currentVersion})`;
    return {
      code: exitCode.notFound,
      message: `condition not met${current}: nothing was written. ` +
        "Read the key again and retry with its current version.",
    };
  }
  if (error instanceof HttpError) return describeHttpError(error);
  if (error instanceof TimeoutError) {
    return {
      code: exitCode.server,
      message: `no answer from ${error.url} within ${error.timeoutMs} ms. The node may be ` +
        "overloaded: retry, or raise --timeout-ms." + unknownNote(error.outcomeUnknown),
    };
  }
  if (error instanceof ConnectionError) {
    return {
      code: exitCode.server,
      message: `${error.message}.\nIs a node running there? Start one with \`deno task start\`, ` +
        "or point --url (or RINGKV_URL) at a running node." + unknownNote(error.outcomeUnknown),
    };
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    return { code: exitCode.usage, message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: exitCode.server, message };
}

function unknownNote(outcomeUnknown: boolean): string {
  return outcomeUnknown ? "\nThe write may or may not have been applied: read the key to see." : "";
}

function describeHttpError(error: HttpError): { code: number; message: string } {
  const { status, problem } = error;
  const what = `the node answered ${status} ${problem.title}` +
    (problem.detail ? `: ${problem.detail}` : "");
  if (status === 401 || status === 403) {
    return {
      code: exitCode.server,
      message: `${what}\nPass a valid token with --token or RINGKV_TOKEN.`,
    };
  }
  if (status === 404) return { code: exitCode.notFound, message: what };
  if (status >= 400 && status < 500) return { code: exitCode.usage, message: what };
  if (status === 503) {
    return {
      code: exitCode.server,
      message: `${what}\nThe node is busy or not ready: retry in a moment.` +
        unknownNote(error.outcomeUnknown),
    };
  }
  return { code: exitCode.server, message: what + unknownNote(error.outcomeUnknown) };
}
