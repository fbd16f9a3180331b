/** Structured logging: one JSON object per line, on stderr, so stdout stays free for output. */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra key/value context attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger; every call writes at most one line. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. Default "info". */
  level?: LogLevel;
  /** Where finished lines go. Default: stderr. */
  sink?: (line: string) => void;
  /** Fields added to every line. */
  fields?: LogFields;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function serializable(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

/** Creates a logger writing JSON lines: {"ts","level","msg",...fields}. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const minRank = levelRank[options.level ?? "info"];
  const sink = options.sink ?? writeStderr;
  const base = options.fields ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (levelRank[level] < minRank) return;
    const line: LogFields = { ts: new Date().toISOString(), level, msg };
    for (const [k, v] of Object.entries(base)) line[k] = serializable(v);
    if (fields) { for (const [k, v] of Object.entries(fields)) line[k] = serializable(v); }
    sink(JSON.stringify(line));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that discards everything; the default for libraries used without a host. */
export const silentLogger: Logger = createLogger({ sink: () => {} });
