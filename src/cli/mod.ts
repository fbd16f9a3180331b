/**
 * The ringkv command-line client: `get`, `put`, `delete`, `list`, `status`, `health`, `ping`
 * and `shell`, talking to a node over HTTP through src/client. Exit codes: 0 ok, 1 not found
 * (or condition not met), 2 usage, 3 server or connection error.
 */
import { defaultUrl, RingkvClient } from "../client/mod.ts";
import { commandHelp, commands, globalOptions, parseCommandArgs } from "./commands.ts";
import { describeError, exitCode, UsageError } from "./format.ts";
import { type CliIo, processIo } from "./io.ts";
import { runShell } from "./shell.ts";

export { exitCode } from "./format.ts";
export type { CliIo } from "./io.ts";

/** Options of {@link runCli}; the defaults are the process's stdio and environment. */
export interface CliOptions {
  io?: CliIo;
  /** Reads an environment variable (RINGKV_URL, RINGKV_TOKEN). */
  env?: (name: string) => string | undefined;
}

/** Flags that take a value, to find the command word among the global flags before it. */
const valueFlags = new Set(
  Object.entries(globalOptions).filter(([, spec]) => spec.type === "string").map(([name]) =>
    `--${name}`
  ),
);

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env permission: behave as if unset
  }
}

/** The general --help text. */
export function generalHelp(): string {
  const rows = [...commands.values()].map((c) => `  ${c.name.padEnd(16)} ${c.summary}`);
  return [
    "ringkv: a distributed key-value store",
    "",
    "usage: main.ts COMMAND [flags]",
    "",
    "commands:",
    "  serve            run a node (see `main.ts serve --help` for its flags)",
    ...rows,
    "  shell            an interactive prompt for the commands above (history, help)",
    "  help             `help COMMAND` shows a command's flags (also COMMAND --help)",
    "",
    "global flags:",
    `  --url URL[,URL...]  node(s) to talk to (env RINGKV_URL; default ${defaultUrl})`,
    "  --token TOKEN       bearer token (env RINGKV_TOKEN)",
    "  --json              print JSON instead of text",
    "  --timeout-ms MS     time limit of one request attempt (default 10000)",
    "",
    "exit codes: 0 ok, 1 not found or condition not met, 2 usage, 3 server or connection error",
  ].join("\n") + "\n";
}

function findCommand(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("-")) return i;
    if (valueFlags.has(arg)) i++;
  }
  return -1;
}

/** Builds the client from --url/--token/--timeout-ms, falling back to the environment. */
function clientFrom(
  values: Record<string, string | boolean | undefined>,
  env: (name: string) => string | undefined,
): RingkvClient {
  const urlText = (values.url as string | undefined) ?? env("RINGKV_URL") ?? defaultUrl;
  const urls = urlText.split(",").map((u) => u.trim()).filter((u) => u !== "");
  if (urls.length === 0) throw new UsageError("--url needs at least one URL");
  const token = (values.token as string | undefined) ?? env("RINGKV_TOKEN") ?? undefined;
  const timeoutText = values["timeout-ms"] as string | undefined;
  const timeoutMs = timeoutText === undefined ? 10_000 : Number(timeoutText);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 3_600_000) {
    throw new UsageError(`--timeout-ms must be a whole number of ms (1..3600000)`);
  }
  return new RingkvClient({ url: urls, token: token || undefined, timeoutMs, retriesMax: 2 });
}

/**
 * Runs one command line (without the leading `serve`, which main.ts handles) and resolves
 * with its exit code. Never throws: errors are printed with what to do about them.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  const env = options.env ?? readEnv;
  return await execute(args, { io, env, inShell: false });
}

/** Runs one command line; shared by runCli and the shell. */
export async function execute(
  args: string[],
  ctx: { io: CliIo; env: (name: string) => string | undefined; inShell: boolean },
): Promise<number> {
  const { io } = ctx;
  try {
    const index = findCommand(args);
    if (index < 0) {
      if (args.includes("--help") || args.includes("-h")) {
        await io.out(generalHelp());
        return exitCode.ok;
      }
      throw new UsageError("no command given. Commands: " + commandNames());
    }
    const name = args[index];
    const rest = [...args.slice(0, index), ...args.slice(index + 1)];
    if (name === "help") return await printHelp(io, rest.filter((a) => !a.startsWith("-"))[0]);
    if (name === "serve") {
      throw new UsageError("`serve` runs a node: start it as `main.ts serve` (see its --help)");
    }
    if (name === "shell") {
      if (ctx.inShell) throw new UsageError("already in the shell");
      if (rest.includes("--help") || rest.includes("-h")) {
        await io.out(
          "usage: ringkv shell [global flags]\n\nan interactive prompt; type `help` inside\n",
        );
        return exitCode.ok;
      }
      return await runShell(rest, { io, run: (line) => execute(line, { ...ctx, inShell: true }) });
    }
    const command = commands.get(name);
    if (command === undefined) {
      throw new UsageError(`unknown command "${name}". Commands: ${commandNames()}`);
    }
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help === true) {
      await io.out(commandHelp(command));
      return exitCode.ok;
    }
    const client = clientFrom(values, ctx.env);
    return await command.run(
      { client, io, json: values.json === true, inShell: ctx.inShell },
      values,
      positionals,
    );
  } catch (error) {
    const { code, message } = describeError(error);
    await io.err(`ringkv: ${message}\n`);
    return code;
  }
}

function commandNames(): string {
  return ["serve", ...commands.keys(), "shell", "help"].join(", ");
}

async function printHelp(io: CliIo, name: string | undefined): Promise<number> {
  if (name === undefined) {
    await io.out(generalHelp());
    return exitCode.ok;
  }
  if (name === "serve") {
    await io.out("`serve` runs a node: see `main.ts serve --help` for its flags\n");
    return exitCode.ok;
  }
  const command = commands.get(name);
  if (command === undefined) {
    throw new UsageError(`unknown command "${name}". Commands: ${commandNames()}`);
  }
  await io.out(commandHelp(command));
  return exitCode.ok;
}
