/**
 * Shared helpers of the deploy tests: paths in the repository, YAML reading, and running an
 * external checker (promtool, ansible-playbook, systemd-analyze) when it is installed.
 */
import { parse } from "yaml";

/** Absolute path of the repository root, with a trailing slash. */
export const repoRoot = new URL("../../", import.meta.url).pathname;

/** Absolute path of `relative` (from the repository root). */
export function repoPath(relative: string): string {
  return repoRoot + relative.replace(/^\.?\//, "");
}

/** True when `path` exists (file or directory). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Parses a YAML file of the repository (with `<<` merge keys); throws on any YAML error. */
export function readYaml(relative: string): unknown {
  const text = Deno.readTextFileSync(repoPath(relative));
  return parse(text, { merge: true, strict: true, uniqueKeys: true, prettyErrors: true });
}

/** The absolute path of `tool` on PATH, or undefined when it is not installed. */
export function which(tool: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${tool}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return `${dir}/${tool}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** What a finished command printed and how it exited. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killed after `timeoutMs` (default 60 s). */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, options.timeoutMs ?? 60_000);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A test name that says why it is skipped when `tool` is missing, so the report shows the
 * reason next to "ignored".
 */
export function toolTestName(name: string, tool: string): string {
  return which(tool) === undefined ? `${name} (skipped: ${tool} is not installed)` : name;
}
