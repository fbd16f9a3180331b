import assert from "node:assert/strict";

// `deno compile` needs the denort runtime; it is downloaded unless DENORT_BIN points at a local
// copy. Where neither is possible the test is skipped and says so.
const denortBin = Deno.env.get("DENORT_BIN");
const skipReason = "skipped: set DENORT_BIN to a denort binary to test `deno task compile`";

function compileArgs(outputPath: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const task: string = config.tasks.compile;
  const words = task.split(/\s+/);
  assert.equal(words[0], "deno");
  assert.equal(words[1], "compile");
  const outputAt = words.indexOf("--output");
  assert.ok(outputAt > 0, "the compile task names its --output");
  words[outputAt + 1] = outputPath;
  return words.slice(1);
}

Deno.test({
  name: `compiles one executable that runs the CLI${denortBin ? "" : ` (${skipReason})`}`,
  ignore: !denortBin,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ringkv-compile-" });
    try {
      const binary = `${dir}/ringkv`;
      const compiled = await new Deno.Command(Deno.execPath(), {
        args: compileArgs(binary),
        cwd: new URL("..", import.meta.url),
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(compiled.code, 0, new TextDecoder().decode(compiled.stderr));
      const help = await new Deno.Command(binary, { args: ["--help"], stdout: "piped" }).output();
      assert.equal(help.code, 0);
      assert.match(new TextDecoder().decode(help.stdout), /serve/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
