/** The CLI's commands: each one parses its flags, calls the client and prints the result. */
import { parseArgs } from "node:util";
import {
  type ListItem,
  type ReadConsistency,
  type RingkvClient,
  toBase64,
  toBytes,
} from "../client/mod.ts";
import {
  addMemberCommand,
  clusterOrUndefined,
  formatClusterView,
  membersCommand,
  removeMemberCommand,
  transferLeaderCommand,
} from "./cluster_commands.ts";
import { displayBytes, exitCode, jsonBytes, UsageError } from "./format.ts";
import type { CliIo } from "./io.ts";

/** Everything a command needs to run. */
export interface CommandContext {
  client: RingkvClient;
  io: CliIo;
  /** Print JSON instead of text. */
  json: boolean;
  /** True inside `shell`, where stdin holds commands, not values. */
  inShell: boolean;
}

type OptionSpec = { type: "string" | "boolean"; short?: string };

/** One CLI command: its usage, flags and what it does. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** [flag, help] lines shown by --help. */
  optionHelp: [string, string][];
  positionalsMin: number;
  positionalsMax: number;
  run(
    ctx: CommandContext,
    values: Record<string, string | boolean | undefined>,
    args: string[],
  ): Promise<number>;
}

/** Largest value `put` reads from a file or stdin. */
export const putValueBytesMax = 64 * 1024 * 1024;
/** Most items `list` prints. */
export const listItemsMax = 1_000_000;
/** Most round trips of one `ping`. */
export const pingCountMax = 1000;

function intFlag(
  values: Record<string, unknown>,
  name: string,
  options: { min: number; max: number; fallback?: number },
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return options.fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || n < options.min || n > options.max) {
    throw new UsageError(
      `--${name} must be a whole number from ${options.min} to ${options.max}, got "${raw}"`,
    );
  }
  return n;
}

async function printJson(io: CliIo, value: unknown): Promise<void> {
  await io.out(JSON.stringify(value) + "\n");
}

const consistencies: readonly ReadConsistency[] = ["linearizable", "lease", "stale"];

function consistencyFlag(values: Record<string, unknown>): ReadConsistency | undefined {
  const raw = values["consistency"];
  if (raw === undefined) return undefined;
  const level = consistencies.find((c) => c === raw);
  if (level === undefined) {
    throw new UsageError(
      `--consistency must be one of ${consistencies.join(", ")}, got "${String(raw)}"`,
    );
  }
  return level;
}

const getCommand: Command = {
  name: "get",
  usage: "get KEY [--consistency linearizable|lease|stale]",
  summary: "print a key's value (raw bytes) to stdout",
  options: { consistency: { type: "string" } },
  optionHelp: [
    [
      "--consistency LEVEL",
      "linearizable (default), lease (the leader's lease, no quorum round) or stale (any " +
      "replica, at once, maybe behind)",
    ],
  ],
  positionalsMin: 1,
  positionalsMax: 1,
  async run(ctx, values, [key]) {
    const consistency = consistencyFlag(values);
    const found = await ctx.client.get(key, { consistency });
    if (found === null) {
      if (ctx.json) await printJson(ctx.io, { key, found: false });
      await ctx.io.err(`not found: ${key}\n`);
      return exitCode.notFound;
    }
    if (ctx.json) {
      const value = jsonBytes(found.value);
      await printJson(ctx.io, {
        key,
        value: value.text,
        encoding: value.encoding,
        version: found.version,
        ...(found.freshness && {
          applied_index: found.freshness.appliedIndex,
          stale_ms: found.freshness.staleMs,
        }),
      });
      return exitCode.ok;
    }
    await ctx.io.out(found.value);
    const endsWithNewline = found.value.at(-1) === 0x0a;
    if ((ctx.inShell || ctx.io.stdoutIsTerminal()) && !endsWithNewline) await ctx.io.out("\n");
    return exitCode.ok;
  },
};

async function putValue(
  ctx: CommandContext,
  values: Record<string, unknown>,
  args: string[],
): Promise<Uint8Array> {
  const file = values["file"];
  if (args.length === 2 && file !== undefined) {
    throw new UsageError("give the value either as an argument or with --file, not both");
  }
  if (args.length === 2) return toBytes(args[1]);
  if (typeof file === "string") {
    const info = await Deno.stat(file).catch((error) => {
      throw new UsageError(`cannot read --file ${file}: ${(error as Error).message}`);
    });
    if (info.size > putValueBytesMax) {
      throw new UsageError(`--file ${file} is larger than ${putValueBytesMax} bytes`);
    }
    return await Deno.readFile(file);
  }
  if (ctx.inShell || ctx.io.stdinIsTerminal()) {
    throw new UsageError(
      "put needs a value: give it as an argument, with --file FILE, or pipe it on stdin",
    );
  }
  return await ctx.io.readStdin(putValueBytesMax);
}

const putCommand: Command = {
  name: "put",
  usage: "put KEY [VALUE] [--file FILE] [--if-match VERSION] [--if-none-match]",
  summary: "write a key (value from the argument, --file, or stdin)",
  options: {
    file: { type: "string" },
    "if-match": { type: "string" },
    "if-none-match": { type: "boolean" },
  },
  optionHelp: [
    ["--file FILE", "read the value from FILE"],
    ["--if-match VERSION", "write only if the key is at VERSION (compare-and-set)"],
    ["--if-none-match", "write only if the key does not exist (create only)"],
  ],
  positionalsMin: 1,
  positionalsMax: 2,
  async run(ctx, values, args) {
    const ifMatch = intFlag(values, "if-match", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const ifNoneMatch = values["if-none-match"] === true ? "*" : undefined;
    if (ifMatch !== undefined && ifNoneMatch !== undefined) {
      throw new UsageError("--if-match and --if-none-match exclude each other");
    }
    const value = await putValue(ctx, values, args);
    const result = await ctx.client.put(args[0], value, { ifMatch, ifNoneMatch });
    if (ctx.json) {
      await printJson(ctx.io, { key: args[0], version: result.version, created: result.created });
    } else {
      const verb = result.created ? "created" : "updated";
      await ctx.io.out(`${verb} ${args[0]} (version ${result.version})\n`);
    }
    return exitCode.ok;
  },
};

const deleteCommand: Command = {
  name: "delete",
  usage: "delete KEY [--if-match VERSION]",
  summary: "delete a key",
  options: { "if-match": { type: "string" } },
  optionHelp: [["--if-match VERSION", "delete only if the key is at VERSION"]],
  positionalsMin: 1,
  positionalsMax: 1,
  async run(ctx, values, [key]) {
    const ifMatch = intFlag(values, "if-match", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const result = await ctx.client.delete(key, { ifMatch });
    if (ctx.json) {
      await printJson(ctx.io, { key, deleted: result.deleted, version: result.version });
    }
    if (!result.deleted) {
      await ctx.io.err(`not found: ${key}\n`);
      return exitCode.notFound;
    }
    if (!ctx.json) {
      const version = result.version === null || result.version < 0
        ? ""
        : ` (version ${result.version})`;
      await ctx.io.out(`deleted ${key}${version}\n`);
    }
    return exitCode.ok;
  },
};

function itemJson(item: ListItem): Record<string, unknown> {
  const key = jsonBytes(item.key);
  const value = item.value === null ? null : jsonBytes(item.value);
  // One encoding per item, as the server does: both base64 when either is not UTF-8.
  if (key.encoding === "text" && (value === null || value.encoding === "text")) {
    return value === null
      ? { key: key.text, version: item.version }
      : { key: key.text, value: value.text, version: item.version };
  }
  const json: Record<string, unknown> = { key: toBase64(item.key), version: item.version };
  if (item.value !== null) json.value = toBase64(item.value);
  json.encoding = "base64";
  return json;
}

const listCommand: Command = {
  name: "list",
  usage: "list [--prefix P | --start S --end E] [--limit N] [--keys-only] [--reverse]",
  summary: "list keys in order (key TAB value per line)",
  options: {
    prefix: { type: "string" },
    start: { type: "string" },
    end: { type: "string" },
    limit: { type: "string" },
    "keys-only": { type: "boolean" },
    reverse: { type: "boolean" },
  },
  optionHelp: [
    ["--prefix P", "only keys starting with P"],
    ["--start S / --end E", "only keys in [S, E)"],
    ["--limit N", `print at most N items (default 100, at most ${listItemsMax})`],
    ["--keys-only", "print keys without values"],
    ["--reverse", "descending order"],
  ],
  positionalsMin: 0,
  positionalsMax: 0,
  async run(ctx, values) {
    if (values.prefix !== undefined && (values.start !== undefined || values.end !== undefined)) {
      throw new UsageError("--prefix excludes --start and --end: use one or the other");
    }
    const itemsMax = intFlag(values, "limit", { min: 1, max: listItemsMax, fallback: 100 });
    const keysOnly = values["keys-only"] === true;
    const scan = ctx.client.scan({
      prefix: values.prefix as string | undefined,
      start: values.start as string | undefined,
      end: values.end as string | undefined,
      keysOnly,
      reverse: values.reverse === true,
      itemsMax,
    });
    const items: Record<string, unknown>[] = [];
    for await (const item of scan) {
      if (ctx.json) {
        items.push(itemJson(item));
      } else {
        const key = displayBytes(item.key);
        const line = keysOnly || item.value === null ? key : `${key}\t${displayBytes(item.value)}`;
        await ctx.io.out(line + "\n");
      }
    }
    if (ctx.json) await printJson(ctx.io, { items, count: items.length });
    return exitCode.ok;
  },
};

function flatten(prefix: string, value: unknown, lines: string[]): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, lines);
  } else {
    lines.push(`${prefix}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
}

const statusCommand: Command = {
  name: "status",
  usage: "status",
  summary: "show the node's status (id, keys, bytes, cache, config; in a cluster its members)",
  options: {},
  optionHelp: [],
  positionalsMin: 0,
  positionalsMax: 0,
  async run(ctx) {
    const status = await ctx.client.status();
    const cluster = await clusterOrUndefined(ctx.client);
    if (ctx.json) {
      await printJson(ctx.io, cluster === undefined ? status : { ...status, cluster });
    } else {
      const lines: string[] = [];
      flatten("", status, lines);
      await ctx.io.out(lines.join("\n") + "\n");
      if (cluster !== undefined) await ctx.io.out("\n" + formatClusterView(cluster));
    }
    return exitCode.ok;
  },
};

const healthCommand: Command = {
  name: "health",
  usage: "health",
  summary: "check that the node's process is alive (exit 0 when it is)",
  options: {},
  optionHelp: [],
  positionalsMin: 0,
  positionalsMax: 0,
  async run(ctx) {
    const health = await ctx.client.health();
    if (ctx.json) await printJson(ctx.io, { url: ctx.client.url, ...health });
    else await ctx.io.out(`${health.status} (${ctx.client.url})\n`);
    return exitCode.ok;
  },
};

const pingCommand: Command = {
  name: "ping",
  usage: "ping [--count N] [--interval-ms MS]",
  summary: "measure round trips to the node's /health",
  options: { count: { type: "string", short: "c" }, "interval-ms": { type: "string" } },
  optionHelp: [
    ["--count N, -c N", `round trips (default 3, at most ${pingCountMax})`],
    ["--interval-ms MS", "pause between round trips (default 200)"],
  ],
  positionalsMin: 0,
  positionalsMax: 0,
  async run(ctx, values) {
    const count = intFlag(values, "count", { min: 1, max: pingCountMax, fallback: 3 }) ?? 3;
    const intervalMs = intFlag(values, "interval-ms", { min: 0, max: 60_000, fallback: 200 }) ??
      200;
    const timesMs: number[] = [];
    let failures = 0;
    for (let i = 0; i < count; i++) {
      if (i > 0 && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      const startMs = performance.now();
      try {
        await ctx.client.health();
        const ms = performance.now() - startMs;
        timesMs.push(ms);
        if (!ctx.json) await ctx.io.out(`pong from ${ctx.client.url}: ${ms.toFixed(2)} ms\n`);
      } catch (error) {
        failures++;
        if (!ctx.json) await ctx.io.err(`no pong: ${(error as Error).message}\n`);
      }
    }
    const minMs = timesMs.length ? Math.min(...timesMs) : null;
    const maxMs = timesMs.length ? Math.max(...timesMs) : null;
    const avgMs = timesMs.length ? timesMs.reduce((a, b) => a + b, 0) / timesMs.length : null;
    if (ctx.json) {
      await printJson(ctx.io, {
        url: ctx.client.url,
        sent: count,
        ok: timesMs.length,
        minMs,
        avgMs,
        maxMs,
      });
    } else if (avgMs !== null) {
      await ctx.io.out(
        `${timesMs.length}/${count} ok, min/avg/max ${minMs?.toFixed(2)}/${avgMs.toFixed(2)}/` +
          `${maxMs?.toFixed(2)} ms\n`,
      );
    }
    return failures === 0 ? exitCode.ok : exitCode.server;
  },
};

/** Every command but `shell` and `help`, by name. */
export const commands: ReadonlyMap<string, Command> = new Map(
  [
    getCommand,
    putCommand,
    deleteCommand,
    listCommand,
    statusCommand,
    healthCommand,
    pingCommand,
    membersCommand,
    addMemberCommand,
    removeMemberCommand,
    transferLeaderCommand,
  ].map((c) => [c.name, c]),
);

/** Global flags every command accepts. */
export const globalOptions: Record<string, OptionSpec> = {
  url: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  "timeout-ms": { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** Parses a command's arguments (global flags allowed anywhere); throws UsageError. */
export function parseCommandArgs(
  command: Command,
  args: string[],
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${command.name}: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (values.help !== true) {
    if (
      positionals.length < command.positionalsMin || positionals.length > command.positionalsMax
    ) {
      throw new UsageError(`usage: ${command.usage}`);
    }
  }
  return { values: values as Record<string, string | boolean | undefined>, positionals };
}

/** The --help text of one command. */
export function commandHelp(command: Command): string {
  const lines = [`usage: ringkv ${command.usage} [global flags]`, "", command.summary];
  if (command.optionHelp.length > 0) {
    lines.push("", "flags:");
    for (const [flag, help] of command.optionHelp) lines.push(`  ${flag.padEnd(22)} ${help}`);
  }
  return lines.join("\n") + "\n";
}
