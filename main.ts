/**
 * ringkv's one entry point: `serve` runs a node; every other command is the client CLI.
 * Run `main.ts --help` for the list.
 */
import { serveCommand } from "./src/node.ts";
import { runCli } from "./src/cli/mod.ts";

if (import.meta.main) {
  const [command, ...rest] = Deno.args;
  const code = command === "serve" ? await serveCommand(rest) : await runCli(Deno.args);
  Deno.exit(code);
}
