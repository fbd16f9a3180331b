/** `ringkv shell`: a prompt that runs CLI commands, with line editing, history and help. */
import { createInterface } from "node:readline";
import process from "node:process";
import { commands } from "./commands.ts";
import { exitCode } from "./format.ts";
import type { CliIo } from "./io.ts";

/** Most lines kept in the shell's history (in memory and in the history file). */
export const historyLinesMax = 1000;
/** Longest command line the shell accepts. */
export const lineCharsMax = 1024 * 1024;

/** Splits a command line into words: spaces separate, '...' and "..." quote, \ escapes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== null) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

function shellHelp(): string {
  const rows = [...commands.values()].map((c) => `  ${c.usage}`);
  return [
    "commands (flags as on the command line; `COMMAND --help` for details):",
    ...rows,
    "  history                show this session's commands",
    "  help                   this text",
    "  exit | quit            leave (also Ctrl-D)",
    "",
  ].join("\n");
}

function historyPath(): string | undefined {
  try {
    const home = Deno.env.get("HOME");
    return home ? `${home}/.ringkv_history` : undefined;
  } catch {
    return undefined;
  }
}

async function loadHistory(path: string | undefined): Promise<string[]> {
  if (path === undefined) return [];
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").filter((l) => l !== "").slice(-historyLinesMax);
  } catch {
    return [];
  }
}

async function saveHistory(path: string | undefined, lines: string[]): Promise<void> {
  if (path === undefined) return;
  try {
    await Deno.writeTextFile(path, lines.slice(-historyLinesMax).join("\n") + "\n");
  } catch {
    // A history that cannot be saved is not worth failing the session for.
  }
}

/**
 * Reads commands from stdin until `exit` or end of input and runs each through `run`, with
 * `globalArgs` (the shell's own --url, --token, --json ...) in front. Resolves with 0.
 */
export async function runShell(
  globalArgs: string[],
  options: { io: CliIo; run: (args: string[]) => Promise<number> },
): Promise<number> {
  const { io } = options;
  const interactive = io.stdinIsTerminal();
  const path = interactive ? historyPath() : undefined;
  const saved = await loadHistory(path);
  const session: string[] = [];
  const rl = createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    history: [...saved].reverse(),
    historySize: historyLinesMax,
    prompt: "ringkv> ",
  });
  if (interactive) {
    await io.out("ringkv shell: type `help` for commands, `exit` to leave\n");
    rl.prompt();
  }
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line !== "" && !line.startsWith("#")) {
        if (session.length >= historyLinesMax) session.shift();
        session.push(line);
        if (line === "exit" || line === "quit") break;
        await runLine(line, { io, globalArgs, session, run: options.run });
      }
      if (interactive) rl.prompt();
    }
  } finally {
    rl.close();
    await saveHistory(path, [...saved, ...session]);
  }
  return exitCode.ok;
}

async function runLine(
  line: string,
  ctx: {
    io: CliIo;
    globalArgs: string[];
    session: string[];
    run: (args: string[]) => Promise<number>;
  },
): Promise<void> {
  const { io } = ctx;
  if (line.length > lineCharsMax) {
    await io.err(`ringkv: a line is limited to ${lineCharsMax} characters\n`);
    return;
  }
  let words: string[];
  try {
    words = splitWords(line);
  } catch (error) {
    await io.err(`ringkv: ${(error as Error).message}; close the quote and try again\n`);
    return;
  }
  if (words[0] === "help" && words.length === 1) {
    await io.out(shellHelp());
    return;
  }
  if (words[0] === "history") {
    await io.out(ctx.session.map((l, i) => `${String(i + 1).padStart(4)}  ${l}`).join("\n") + "\n");
    return;
  }
  await ctx.run([...ctx.globalArgs, ...words]);
}
