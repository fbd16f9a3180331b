import assert from "node:assert/strict";
import { mainPath, type NodeProcess, startNodeProcess } from "../client/node_process.ts";

interface CliRun {
  code: number;
  stdout: Uint8Array;
  out: string;
  err: string;
}

const decoder = new TextDecoder();

/** Runs the real CLI (`deno run -A main.ts ...args`) with optional stdin bytes. */
async function cli(
  args: string[],
  options: { url?: string; stdin?: Uint8Array | string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const env: Record<string, string> = { ...options.env };
  if (options.url) env.RINGKV_URL = options.url;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", mainPath, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const bytes = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    await writer.write(bytes);
    await writer.close();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const output = await child.output();
  clearTimeout(timer);
  return {
    code: output.code,
    stdout: output.stdout,
    out: decoder.decode(output.stdout),
    err: decoder.decode(output.stderr),
  };
}

function closedPortUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

Deno.test("cli against a real node", async (t) => {
  const node: NodeProcess = await startNodeProcess();
  const url = node.url;
  try {
    await t.step("put from an argument, then get prints the exact value", async () => {
      const put = await cli(["put", "greeting", "hello world"], { url });
      assert.equal(put.code, 0, put.err);
      assert.match(put.out, /^created greeting \(version \d+\)\n$/);
      const get = await cli(["get", "greeting"], { url });
      assert.equal(get.code, 0, get.err);
      assert.equal(get.out, "hello world"); // stdout is a pipe: no newline added
    });

    await t.step("get of a missing key exits 1 and says so on stderr", async () => {
      const get = await cli(["get", "no-such-key"], { url });
      assert.equal(get.code, 1);
      assert.equal(get.out, "");
      assert.match(get.err, /not found: no-such-key/);
    });

    await t.step("put reads binary bytes from stdin and get returns them unchanged", async () => {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const put = await cli(["put", "bin/all-bytes"], { url, stdin: bytes });
      assert.equal(put.code, 0, put.err);
      const get = await cli(["get", "bin/all-bytes"], { url });
      assert.deepEqual(get.stdout, bytes);
    });

    await t.step("put --file reads the value from a file", async () => {
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeTextFile(`${dir}/v.txt`, "from a file\n");
        const put = await cli(["put", "filed", "--file", `${dir}/v.txt`], { url });
        assert.equal(put.code, 0, put.err);
        assert.equal((await cli(["get", "filed"], { url })).out, "from a file\n");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("put --file of a missing file exits 2 naming the file", async () => {
      const put = await cli(["put", "k", "--file", "/nonexistent/ringkv-value"], { url });
      assert.equal(put.code, 2);
      assert.match(put.err, /\/nonexistent\/ringkv-value/);
    });

    await t.step("get --json prints the value, its encoding and version", async () => {
      const get = await cli(["get", "greeting", "--json"], { url });
      const doc = JSON.parse(get.out);
      assert.equal(doc.value, "hello world");
      assert.equal(doc.encoding, "text");
      assert.equal(typeof doc.version, "number");
      const bin = JSON.parse((await cli(["get", "bin/all-bytes", "--json"], { url })).out);
      assert.equal(bin.encoding, "base64");
      assert.equal(atob(bin.value).length, 256);
    });

    await t.step("put --if-none-match on an existing key exits 1 and keeps the value", async () => {
      const put = await cli(["put", "greeting", "other", "--if-none-match"], { url });
      assert.equal(put.code, 1);
      assert.match(put.err, /condition not met/);
      assert.equal((await cli(["get", "greeting"], { url })).out, "hello world");
    });

    await t.step("put --if-match with the current version replaces the value", async () => {
      const { version } = JSON.parse((await cli(["get", "greeting", "--json"], { url })).out);
      const put = await cli(["put", "greeting", "cas", "--if-match", String(version), "--json"], {
        url,
      });
      assert.equal(put.code, 0, put.err);
      const doc = JSON.parse(put.out);
      assert.equal(doc.created, false);
      assert.ok(doc.version > version);
      const stale = await cli(["put", "greeting", "x", "--if-match", String(version)], { url });
      assert.equal(stale.code, 1);
    });

    await t.step("delete removes a key, and a second delete exits 1", async () => {
      await cli(["put", "doomed", "x"], { url });
      const first = await cli(["delete", "doomed"], { url });
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /^deleted doomed/);
      assert.equal((await cli(["get", "doomed"], { url })).code, 1);
      const second = await cli(["delete", "doomed"], { url });
      assert.equal(second.code, 1);
      assert.match(second.err, /not found: doomed/);
    });

    await t.step("list prints key TAB value lines in key order, filtered by prefix", async () => {
      for (const k of ["fruit/pear", "fruit/apple", "veg/leek"]) {
        await cli(["put", k, k.toUpperCase()], { url });
      }
      const list = await cli(["list", "--prefix", "fruit/"], { url });
      assert.equal(list.code, 0, list.err);
      assert.equal(list.out, "fruit/apple\tFRUIT/APPLE\nfruit/pear\tFRUIT/PEAR\n");
      const keys = await cli(["list", "--prefix", "fruit/", "--keys-only", "--reverse"], { url });
      assert.equal(keys.out, "fruit/pear\nfruit/apple\n");
    });

    await t.step("list --limit bounds the items and --json counts them", async () => {
      const list = await cli(["list", "--limit", "2", "--json"], { url });
      const doc = JSON.parse(list.out);
      assert.equal(doc.count, 2);
      assert.equal(doc.items.length, 2);
      assert.ok(doc.items[0].key < doc.items[1].key);
    });

    await t.step("list shows non-UTF-8 bytes escaped, one key per line", async () => {
      const list = await cli(["list", "--prefix", "bin/"], { url });
      const [line] = list.out.split("\n");
      assert.match(line, /^bin\/all-bytes\t\\x00\\x01/);
    });

    await t.step("status --json reports the node's id and key count", async () => {
      const status = await cli(["status", "--json"], { url });
      assert.equal(status.code, 0, status.err);
      const doc = JSON.parse(status.out);
      assert.equal(typeof doc.id, "string");
      assert.ok(doc.keys >= 5);
      const text = await cli(["status"], { url });
      assert.match(text.out, /^keys: \d+$/m);
    });

    await t.step("health prints ok and exits 0", async () => {
      const health = await cli(["health"], { url });
      assert.equal(health.code, 0, health.err);
      assert.match(health.out, /^ok /);
    });

    await t.step("ping --count 2 prints two round trips and a summary", async () => {
      const ping = await cli(["ping", "--count", "2", "--interval-ms", "0"], { url });
      assert.equal(ping.code, 0, ping.err);
      assert.equal(ping.out.match(/^pong from /gm)?.length, 2);
      assert.match(ping.out, /2\/2 ok/);
    });

    await t.step("--url on the command line wins over RINGKV_URL", async () => {
      const get = await cli(["get", "greeting", "--url", url], { url: closedPortUrl() });
      assert.equal(get.code, 0, get.err);
    });

    await t.step("shell runs commands from stdin, with help and history", async () => {
      const script = [
        "put 'shell key' \"two words\"",
        "get 'shell key'",
        "get missing-in-shell",
        "bogus",
        "help",
        "history",
        "exit",
        "put never-run x",
      ].join("\n") + "\n";
      const shell = await cli(["shell"], { url, stdin: script });
      assert.equal(shell.code, 0, shell.err);
      assert.match(shell.out, /created shell key/);
      assert.match(shell.out, /^two words$/m);
      assert.match(shell.err, /not found: missing-in-shell/);
      assert.match(shell.err, /unknown command "bogus"/);
      assert.match(shell.out, /history +show this session's commands/);
      assert.match(shell.out, /^ {3}2 {2}get 'shell key'$/m);
      assert.equal((await cli(["get", "never-run"], { url })).code, 1);
    });

    await t.step("shell --json prints every answer as JSON", async () => {
      const shell = await cli(["shell", "--json"], { url, stdin: "get greeting\n" });
      assert.equal(JSON.parse(shell.out).value, "cas");
    });
  } finally {
    await node.stop();
  }
});

Deno.test("a node with a token refuses the CLI without it and accepts RINGKV_TOKEN", async () => {
  const node = await startNodeProcess(["--auth-token", "t0ken"]);
  try {
    const anonymous = await cli(["put", "k", "v"], { url: node.url });
    assert.equal(anonymous.code, 3);
    assert.match(anonymous.err, /401/);
    assert.match(anonymous.err, /--token or RINGKV_TOKEN/);
    const withEnv = await cli(["put", "k", "v"], { url: node.url, env: { RINGKV_TOKEN: "t0ken" } });
    assert.equal(withEnv.code, 0, withEnv.err);
    const withFlag = await cli(["get", "k", "--token", "t0ken"], { url: node.url });
    assert.equal(withFlag.out, "v");
  } finally {
    await node.stop();
  }
});

Deno.test("a node that is not there gives exit 3 and says how to point --url", async () => {
  const deadUrl = closedPortUrl();
  const get = await cli(["get", "k", "--url", deadUrl]);
  assert.equal(get.code, 3);
  assert.ok(get.err.includes(deadUrl), get.err);
  assert.match(get.err, /--url/);
});

Deno.test("usage errors exit 2 with a message pointing at --help", async () => {
  for (
    const args of [
      ["frobnicate"],
      ["get"],
      ["put", "k", "v", "--bogus-flag"],
      ["list", "--prefix", "a", "--start", "b"],
      ["put", "k", "v", "--if-match", "not-a-number"],
      [],
    ]
  ) {
    const run = await cli(args, { url: closedPortUrl() });
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.err}`);
    assert.match(run.err, /--help/);
  }
});

Deno.test("put without a value and with a closed stdin writes an empty value", async () => {
  // Piped but empty stdin is a value of zero bytes, not a usage error.
  const node = await startNodeProcess();
  try {
    const put = await cli(["put", "empty"], { url: node.url, stdin: "" });
    assert.equal(put.code, 0, put.err);
    const get = await cli(["get", "empty", "--json"], { url: node.url });
    assert.equal(JSON.parse(get.out).value, "");
  } finally {
    await node.stop();
  }
});

Deno.test("--help lists serve and every command; COMMAND --help shows its flags", async () => {
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  for (
    const name of ["serve", "get", "put", "delete", "list", "status", "health", "ping", "shell"]
  ) {
    assert.match(help.out, new RegExp(`^  ${name} `, "m"));
  }
  assert.match(help.out, /main\.ts serve --help/);
  const put = await cli(["put", "--help"]);
  assert.equal(put.code, 0);
  assert.match(put.out, /--if-none-match/);
});
