/**
 * Configuration of a ringkv node: command-line flags, RINGKV_* environment variables and an
 * optional JSON file, validated once into one typed {@link Config}. Precedence: flags, then
 * environment, then the file, then the embedded defaults.
 */
import { parseArgs } from "node:util";
import type { LogLevel } from "./log.ts";
import type { SyncMode } from "./storage/types.ts";

/** A node's complete, validated configuration. */
export interface Config {
  /** This node's id, as it appears in logs and /status. */
  id: string;
  httpHost: string;
  /** 0 lets the OS choose; the node logs the URL it got. */
  httpPort: number;
  dataDir: string;
  /** Bearer tokens accepted; empty = no authentication. */
  authTokens: string[];
  /** PEM certificate and key files; both or neither. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  keyBytesMax: number;
  valueBytesMax: number;
  /** Largest request body (a PUT value or a batch document). */
  bodyBytesMax: number;
  batchOpsMax: number;
  listLimitMax: number;
  /** Requests in progress at once; past it requests get 503 with Retry-After. */
  requestsConcurrentMax: number;
  /** Longest time a request body may take to arrive; past it the request gets 408. */
  bodyTimeoutMs: number;
  sync: SyncMode;
  syncIntervalMs: number;
  cacheBytesMax: number;
  segmentBytesMax: number;
  /** 0 = no quota. */
  diskBytesMax: number;
  logLevel: LogLevel;
  /** Record and export Prometheus metrics (/metrics). */
  metrics: boolean;
  /** Raft timing and snapshots: a standalone node is a cluster of one and uses them too. */
  raft: RaftConfig;
  /** Set when --cluster or --join is given; absent = a standalone node (a cluster of one). */
  cluster?: ClusterConfig;
  /** Tests only: fault injection and its /admin/faults route (--enable-fault-injection). */
  faultInjection: boolean;
}

/** The replicated-mode settings (--cluster, --peer, --secret-file, --raft-*). */
export interface ClusterConfig {
  /** Every initial voter: node id -> peer address host:port. Names this node. Empty with --join. */
  members: Record<string, string>;
  /**
   * --join: the HTTP URL of a member. A node with an empty data dir asks it to be added (as
   * a learner, then a voter) instead of bootstrapping; a node with a Raft log ignores it.
   */
  join?: string;
  /** Where this node's peer transport listens (--peer; default its --cluster entry). */
  peerHost: string;
  peerPort: number;
  /** File holding the cluster secret; without it RINGKV_CLUSTER_SECRET is read. */
  secretFile?: string;
}

/** Raft settings (--raft-*, --snapshot-entries). */
export interface RaftConfig {
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  proposalTimeoutMs: number;
  /** A snapshot is taken, and the log compacted behind the previous one, every this many entries. */
  snapshotEntries: number;
}

/** Raised for any invalid flag, variable or file entry; the message names it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** "switch": a flag without a value (given = true); env and file take true/false. */
type Kind = "string" | "int" | "bytes" | "list" | "enum" | "address" | "switch";

interface FlagSpec {
  /** Flag name without dashes; also the config-file key. */
  name: string;
  kind: Kind;
  /** Default as written on the command line; undefined = no default. */
  fallback?: string;
  help: string;
  choices?: readonly string[];
  /** Smallest and largest accepted number for int and bytes. */
  min?: number;
  max?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Every flag `serve` knows. Cluster flags (--peer, --cluster, --join) join this table. */
const flagSpecs: readonly FlagSpec[] = [
  { name: "id", kind: "string", fallback: "n1", help: "node id shown in logs and /status" },
  {
    name: "http",
    kind: "address",
    fallback: "127.0.0.1:7070",
    help: "HTTP listen address host:port (port 0 = any free port)",
  },
  { name: "data-dir", kind: "string", fallback: "./data", help: "data directory" },
  {
    name: "auth-token",
    kind: "list",
    help: "accepted bearer token; repeat for several (env: comma separated); none = no auth",
  },
  { name: "tls-cert", kind: "string", help: "PEM certificate file (with --tls-key)" },
  { name: "tls-key", kind: "string", help: "PEM private key file (with --tls-cert)" },
  {
    name: "key-bytes-max",
    kind: "bytes",
    fallback: "1024",
    min: 1,
    max: 64 * KiB,
    help: "longest key",
  },
  {
    name: "value-bytes-max",
    kind: "bytes",
    fallback: "1MiB",
    min: 0,
    max: 64 * MiB,
    help: "largest value",
  },
  {
    name: "body-bytes-max",
    kind: "bytes",
    fallback: "8MiB",
    min: 1,
    max: 1 * GiB,
    help: "largest request body (PUT value or batch document)",
  },
  {
    name: "batch-ops-max",
    kind: "int",
    fallback: "1000",
    min: 1,
    max: 100_000,
    help: "most ops in one batch",
  },
  {
    name: "list-limit-max",
    kind: "int",
    fallback: "1000",
    min: 1,
    max: 100_000,
    help: "largest page of GET /kv (limit is capped to it)",
  },
  {
    name: "requests-concurrent-max",
    kind: "int",
    fallback: "1024",
    min: 1,
    max: 1_000_000,
    help: "requests in progress at once; more get 503 + Retry-After",
  },
  {
    name: "body-timeout-ms",
    kind: "int",
    fallback: "30000",
    min: 1,
    max: 3_600_000,
    help: "longest time a request body may take to arrive (408 past it)",
  },
  {
    name: "sync",
    kind: "enum",
    fallback: "always",
    choices: ["always", "interval", "none"],
    help: "always = ack after fdatasync; interval and none trade durability for speed",
  },
  {
    name: "sync-interval-ms",
    kind: "int",
    fallback: "100",
    min: 1,
    max: 60_000,
    help: "period of background syncs with --sync interval",
  },
  {
    name: "cache-bytes",
    kind: "bytes",
    fallback: "64MiB",
    min: 0,
    max: 64 * GiB,
    help: "value cache size (0 = off)",
  },
  {
    name: "segment-bytes",
    kind: "bytes",
    fallback: "64MiB",
    min: 64 * KiB,
    max: 4 * GiB,
    help: "segment file size before rolling",
  },
  {
    name: "disk-quota",
    kind: "bytes",
    fallback: "0",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    help: "refuse writes past this many data bytes (0 = no quota)",
  },
  {
    name: "metrics",
    kind: "enum",
    fallback: "on",
    choices: ["on", "off"],
    help: "record and export Prometheus metrics at /metrics",
  },
  {
    name: "peer",
    kind: "address",
    help: "peer (Raft) listen address host:port; default: this node's --cluster entry",
  },
  {
    name: "cluster",
    kind: "string",
    help: "initial voters id=host:port,id=host:port,...; given = replicated mode",
  },
  {
    name: "join",
    kind: "string",
    help: "HTTP URL of a member: a new node joins the cluster through it (needs --peer)",
  },
  {
    name: "secret-file",
    kind: "string",
    help: "file holding the cluster secret (else env RINGKV_CLUSTER_SECRET)",
  },
  {
    name: "raft-tick-ms",
    kind: "int",
    fallback: "10",
    min: 1,
    max: 10_000,
    help: "period of one Raft tick",
  },
  {
    name: "raft-election-ticks",
    kind: "int",
    fallback: "20",
    min: 2,
    max: 10_000,
    help: "ticks without a leader before a follower campaigns (randomized up to 2x)",
  },
  {
    name: "raft-heartbeat-ticks",
    kind: "int",
    fallback: "2",
    min: 1,
    max: 10_000,
    help: "ticks between leader heartbeats (less than --raft-election-ticks)",
  },
  {
    name: "raft-proposal-timeout-ms",
    kind: "int",
    fallback: "5000",
    min: 10,
    max: 600_000,
    help: "longest wait for a write to commit before answering 503 outcome-unknown",
  },
  {
    name: "snapshot-entries",
    kind: "int",
    fallback: "10000",
    min: 10,
    max: 100_000_000,
    help: "applied entries between snapshots; the Raft log keeps about 1-2x this many",
  },
  {
    name: "enable-fault-injection",
    kind: "switch",
    fallback: "false",
    help: "FOR TESTS ONLY: /admin/faults may cut, drop or delay peer traffic and slow fsyncs",
  },
  {
    name: "log-level",
    kind: "enum",
    fallback: "info",
    choices: ["debug", "info", "warn", "error"],
    help: "lowest level logged",
  },
];

/** The environment variable of a flag: RINGKV_ + upper snake case. */
function envName(flag: string): string {
  return "RINGKV_" + flag.toUpperCase().replaceAll("-", "_");
}

const byteUnits: Record<string, number> = {
  "": 1,
  b: 1,
  kib: KiB,
  mib: MiB,
  gib: GiB,
  k: KiB,
  m: MiB,
  g: GiB,
};

function parseNumber(spec: FlagSpec, given: { raw: string; source: string }): number {
  const { raw, source } = given;
  const match = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = match ? match[2].toLowerCase() : "";
  const scale = spec.kind === "bytes" ? byteUnits[unit] : unit === "" ? 1 : undefined;
  if (!match || scale === undefined) {
    const what = spec.kind === "bytes"
      ? "a byte count (e.g. 4096, 64KiB, 1MiB, 2GiB)"
      : "an integer";
    throw new ConfigError(`${source}: expected ${what}, got "${raw}"`);
  }
  const value = Number(match[1]) * scale;
  const min = spec.min ?? 0;
  const max = spec.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${source}: ${raw} is out of range; allowed ${min}..${max}`);
  }
  return value;
}

function parseAddress(raw: string, source: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new ConfigError(`${source}: expected host:port (e.g. 127.0.0.1:7070), got "${raw}"`);
  }
  const host = match[1].startsWith("[") ? match[1].slice(1, -1) : match[1];
  return { host, port };
}

type RawValue = string | string[];

/** Where each flag's raw value came from, flags winning over env over file. */
function collectRaw(sources: {
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  file: Record<string, unknown>;
}): Map<string, { value: RawValue; source: string }> {
  const { flags, env, file } = sources;
  const raw = new Map<string, { value: RawValue; source: string }>();
  for (const spec of flagSpecs) {
    const flag = flags[spec.name];
    const fromEnv = env[envName(spec.name)];
    const fromFile = file[spec.name];
    if (flag !== undefined) {
      const value = spec.kind === "switch" ? String(flag) : flag as RawValue;
      raw.set(spec.name, { value, source: `--${spec.name}` });
    } else if (fromEnv !== undefined && fromEnv !== "") {
      const value = spec.kind === "list" ? fromEnv.split(",").filter((s) => s !== "") : fromEnv;
      raw.set(spec.name, { value, source: envName(spec.name) });
    } else if (fromFile !== undefined) {
      raw.set(spec.name, {
        value: fileValue(spec, fromFile),
        source: `config file "${spec.name}"`,
      });
    } else if (spec.fallback !== undefined) {
      raw.set(spec.name, { value: spec.fallback, source: `default of --${spec.name}` });
    }
  }
  return raw;
}

function fileValue(spec: FlagSpec, value: unknown): RawValue {
  const where = `config file "${spec.name}"`;
  if (spec.kind === "list") {
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
    throw new ConfigError(`${where}: expected an array of strings`);
  }
  if (typeof value === "number" && (spec.kind === "int" || spec.kind === "bytes")) {
    return String(value);
  }
  if (typeof value === "boolean" && spec.kind === "switch") return String(value);
  if (typeof value === "string") return value;
  throw new ConfigError(`${where}: expected a string${spec.kind === "int" ? " or number" : ""}`);
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new ConfigError(`--config: cannot read "${path}": ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`--config: "${path}" is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`--config: "${path}" must hold a JSON object of flag names`);
  }
  const known = new Set(flagSpecs.map((s) => s.name));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) {
      throw new ConfigError(`--config: unknown key "${key}" in "${path}" (keys are flag names)`);
    }
  }
  return parsed as Record<string, unknown>;
}

/** What {@link parseConfig} returns: a Config, or a request for the help text. */
export type ParsedArgs = { help: true } | { help: false; config: Config };

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Environment to read RINGKV_* from. Default: Deno.env. */
  env?: Record<string, string | undefined>;
}

/**
 * Parses `serve`'s arguments with the environment and optional config file into a Config.
 * Throws ConfigError naming the flag (or variable or file key) and what it accepts.
 */
export function parseConfig(args: string[], options: ParseConfigOptions = {}): ParsedArgs {
  const parseOptions: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
    config: { type: "string" },
  };
  for (const spec of flagSpecs) {
    parseOptions[spec.name] = {
      type: spec.kind === "switch" ? "boolean" : "string",
      multiple: spec.kind === "list",
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: parseOptions, strict: true, allowPositionals: false });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}; see --help`);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help === true) return { help: true };
  const env = options.env ?? Deno.env.toObject();
  const configPath = (values.config as string | undefined) ?? env["RINGKV_CONFIG"];
  const file = configPath ? readConfigFile(configPath) : {};
  return { help: false, config: buildConfig(collectRaw({ flags: values, env, file })) };
}

function buildConfig(raw: Map<string, { value: RawValue; source: string }>): Config {
  const str = (name: string): string | undefined => {
    const entry = raw.get(name);
    return entry === undefined ? undefined : String(entry.value);
  };
  const num = (name: string): number => {
    const entry = raw.get(name);
    const spec = flagSpecs.find((s) => s.name === name);
    if (entry === undefined || spec === undefined) throw new Error(`no value for ${name}`);
    return parseNumber(spec, { raw: String(entry.value), source: entry.source });
  };
  const choice = <T extends string>(name: string): T => {
    const entry = raw.get(name)!;
    const spec = flagSpecs.find((s) => s.name === name)!;
    const value = String(entry.value);
    if (!spec.choices!.includes(value)) {
      throw new ConfigError(
        `${entry.source}: "${value}" is not one of ${spec.choices!.join(", ")}`,
      );
    }
    return value as T;
  };
  const onOff = (name: string): boolean => {
    const entry = raw.get(name)!;
    const value = String(entry.value).toLowerCase();
    if (value === "true" || value === "1" || value === "on") return true;
    if (value === "false" || value === "0" || value === "off") return false;
    throw new ConfigError(`${entry.source}: expected true or false, got "${entry.value}"`);
  };
  const http = raw.get("http")!;
  const address = parseAddress(String(http.value), http.source);
  const id = str("id")!;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
    throw new ConfigError(`--id: "${id}" must be 1-64 characters of letters, digits, _ . -`);
  }
  const tokens = (raw.get("auth-token")?.value ?? []) as string[];
  for (const token of tokens) {
    if (!/^[\x21-\x7e]{1,512}$/.test(token)) {
      throw new ConfigError("--auth-token: a token must be 1-512 visible ASCII characters");
    }
  }
  const tlsCertFile = str("tls-cert");
  const tlsKeyFile = str("tls-key");
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key must be given together");
  }
  const dataDir = str("data-dir")!;
  if (dataDir === "") throw new ConfigError("--data-dir: must not be empty");
  const config: Config = {
    id,
    httpHost: address.host,
    httpPort: address.port,
    dataDir,
    authTokens: tokens,
    tlsCertFile,
    tlsKeyFile,
    keyBytesMax: num("key-bytes-max"),
    valueBytesMax: num("value-bytes-max"),
    bodyBytesMax: num("body-bytes-max"),
    batchOpsMax: num("batch-ops-max"),
    listLimitMax: num("list-limit-max"),
    requestsConcurrentMax: num("requests-concurrent-max"),
    bodyTimeoutMs: num("body-timeout-ms"),
    sync: choice<SyncMode>("sync"),
    syncIntervalMs: num("sync-interval-ms"),
    cacheBytesMax: num("cache-bytes"),
    segmentBytesMax: num("segment-bytes"),
    diskBytesMax: num("disk-quota"),
    logLevel: choice<LogLevel>("log-level"),
    metrics: choice<"on" | "off">("metrics") === "on",
    faultInjection: onOff("enable-fault-injection"),
    raft: buildRaftConfig(num),
  };
  const cluster = buildClusterConfig({ id, raw, str });
  if (cluster !== undefined) {
    if (config.sync !== "always") {
      throw new ConfigError(
        `--sync ${config.sync}: a cluster member acknowledges a write only once it is synced ` +
          `on a quorum; --sync interval and none are for a standalone node`,
      );
    }
    config.cluster = cluster;
  }
  return config;
}

/** Parses "--cluster n1=host:port,n2=host:port" into id -> address. */
function parseMembers(raw: string, source: string): Record<string, string> {
  const members: Record<string, string> = {};
  const parts = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0 || parts.length > 64) {
    throw new ConfigError(`${source}: expected 1-64 entries id=host:port, got "${raw}"`);
  }
  for (const part of parts) {
    const eq = part.indexOf("=");
    const id = part.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
      throw new ConfigError(`${source}: "${part}" is not id=host:port`);
    }
    if (members[id] !== undefined) throw new ConfigError(`${source}: ${id} is named twice`);
    const address = parseAddress(part.slice(eq + 1), source);
    if (address.port === 0) throw new ConfigError(`${source}: ${id} needs a real port, not 0`);
    members[id] = part.slice(eq + 1);
  }
  return members;
}

function buildClusterConfig(parts: {
  id: string;
  raw: Map<string, { value: RawValue; source: string }>;
  str: (name: string) => string | undefined;
}): ClusterConfig | undefined {
  const { id, raw, str } = parts;
  const clusterRaw = raw.get("cluster");
  const joinRaw = raw.get("join");
  if (clusterRaw === undefined && joinRaw === undefined) {
    for (const flag of ["peer", "secret-file"]) {
      if (raw.has(flag)) throw new ConfigError(`--${flag} needs --cluster or --join`);
    }
    return undefined;
  }
  const { members, join, peer } = clusterMembers({
    id,
    clusterRaw,
    joinRaw,
    peerRaw: raw.get("peer"),
  });
  return {
    members,
    ...(join === undefined ? {} : { join }),
    peerHost: peer.host,
    peerPort: peer.port,
    secretFile: str("secret-file"),
  };
}

function buildRaftConfig(num: (name: string) => number): RaftConfig {
  const electionTicks = num("raft-election-ticks");
  const heartbeatTicks = num("raft-heartbeat-ticks");
  if (heartbeatTicks >= electionTicks) {
    throw new ConfigError("--raft-heartbeat-ticks must be less than --raft-election-ticks");
  }
  return {
    tickMs: num("raft-tick-ms"),
    electionTicks,
    heartbeatTicks,
    proposalTimeoutMs: num("raft-proposal-timeout-ms"),
    snapshotEntries: num("snapshot-entries"),
  };
}

type RawEntry = { value: RawValue; source: string } | undefined;

/** The initial voters (--cluster) or the URL to join through (--join), and the peer address. */
function clusterMembers(parts: {
  id: string;
  clusterRaw: RawEntry;
  joinRaw: RawEntry;
  peerRaw: RawEntry;
}): { members: Record<string, string>; join?: string; peer: { host: string; port: number } } {
  const { id, clusterRaw, joinRaw, peerRaw } = parts;
  if (clusterRaw !== undefined && joinRaw !== undefined) {
    throw new ConfigError(
      "give --cluster (a founding member) or --join (a new member), not both",
    );
  }
  if (joinRaw !== undefined) {
    const join = parseJoinUrl(String(joinRaw.value), joinRaw.source);
    if (peerRaw === undefined) {
      throw new ConfigError(`${joinRaw.source}: needs --peer host:port (the address others dial)`);
    }
    const peer = parseAddress(String(peerRaw.value), peerRaw.source);
    if (peer.port === 0) {
      throw new ConfigError(`${peerRaw.source}: --join needs a real port, not 0`);
    }
    return { members: {}, join, peer };
  }
  const members = parseMembers(String(clusterRaw!.value), clusterRaw!.source);
  if (members[id] === undefined) {
    throw new ConfigError(`${clusterRaw!.source}: does not name this node (--id ${id})`);
  }
  const peer = peerRaw === undefined
    ? parseAddress(members[id], clusterRaw!.source)
    : parseAddress(String(peerRaw.value), peerRaw.source);
  return { members, peer };
}

function parseJoinUrl(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${source}: "${raw}" is not a URL (e.g. http://127.0.0.1:7070)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`${source}: "${raw}" must be an http:// or https:// URL`);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

/** The configuration with no flags, environment or file: what `deno task start` runs. */
export function defaultConfig(): Config {
  const parsed = parseConfig([], { env: {} });
  if (parsed.help) throw new Error("unreachable: no --help given");
  return parsed.config;
}

/** The `serve --help` text: every flag with its environment variable and default. */
export function helpText(): string {
  const lines = [
    "Usage: main.ts serve [flags]",
    "",
    "Runs a ringkv node. Flags win over RINGKV_* environment variables, which win over",
    "--config FILE (a JSON object keyed by flag name), which wins over the defaults.",
    "",
    "  --help                       this text",
    "  --config FILE                JSON config file (env RINGKV_CONFIG)",
  ];
  for (const spec of flagSpecs) {
    const arg = spec.kind === "list" || spec.kind === "string" || spec.kind === "address"
      ? " VALUE"
      : spec.kind === "switch"
      ? ""
      : spec.kind === "enum"
      ? ` ${spec.choices!.join("|")}`
      : " N";
    const flag = `  --${spec.name}${arg}`;
    const head = flag.length < 31 ? flag.padEnd(31) : `${flag}\n${"".padEnd(31)}`;
    const fallback = spec.fallback === undefined ? "none" : spec.fallback;
    lines.push(`${head}${spec.help}`);
    lines.push(`${"".padEnd(31)}(default: ${fallback}; env ${envName(spec.name)})`);
  }
  return lines.join("\n") + "\n";
}

/** The settings worth showing in /status: everything but secrets and file paths of keys. */
export function configSummary(config: Config): Record<string, unknown> {
  return {
    id: config.id,
    http: `${config.httpHost}:${config.httpPort}`,
    tls: config.tlsCertFile !== undefined,
    auth: config.authTokens.length > 0,
    data_dir: config.dataDir,
    key_bytes_max: config.keyBytesMax,
    value_bytes_max: config.valueBytesMax,
    body_bytes_max: config.bodyBytesMax,
    batch_ops_max: config.batchOpsMax,
    list_limit_max: config.listLimitMax,
    requests_concurrent_max: config.requestsConcurrentMax,
    body_timeout_ms: config.bodyTimeoutMs,
    sync: config.sync,
    sync_interval_ms: config.syncIntervalMs,
    cache_bytes: config.cacheBytesMax,
    segment_bytes: config.segmentBytesMax,
    disk_quota: config.diskBytesMax,
    log_level: config.logLevel,
    metrics: config.metrics,
    fault_injection: config.faultInjection,
    ...(config.cluster === undefined ? {} : {
      cluster: {
        members: config.cluster.members,
        join: config.cluster.join ?? null,
        peer: `${config.cluster.peerHost}:${config.cluster.peerPort}`,
      },
    }),
    raft: {
      tick_ms: config.raft.tickMs,
      election_ticks: config.raft.electionTicks,
      heartbeat_ticks: config.raft.heartbeatTicks,
      proposal_timeout_ms: config.raft.proposalTimeoutMs,
      snapshot_entries: config.raft.snapshotEntries,
    },
  };
}
