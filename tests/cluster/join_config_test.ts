import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "../../src/config.ts";

function parse(args: string[]): Config {
  const parsed = parseConfig(args, { env: {} });
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.config;
}

Deno.test("--join makes a replicated node with no initial members that joins through the URL", () => {
  const c = parse(["--id", "n4", "--peer", "127.0.0.1:7371", "--join", "http://127.0.0.1:7070/"])
    .cluster!;
  assert.deepEqual(c.members, {});
  assert.equal(c.join, "http://127.0.0.1:7070");
  assert.deepEqual([c.peerHost, c.peerPort], ["127.0.0.1", 7371]);
});

Deno.test("--join needs --peer with a real port, an http(s) URL, and excludes --cluster", () => {
  const join = ["--join", "http://127.0.0.1:7070"];
  assert.throws(() => parse(["--id", "n4", ...join]), /needs --peer/);
  assert.throws(() => parse(["--id", "n4", "--peer", "127.0.0.1:0", ...join]), /real port/);
  assert.throws(
    () => parse(["--id", "n4", "--peer", "127.0.0.1:7371", "--join", "127.0.0.1:7070"]),
    ConfigError,
  );
  assert.throws(
    () => parse(["--id", "n4", "--peer", "127.0.0.1:7371", "--join", "ftp://h:1"]),
    /http/,
  );
  assert.throws(
    () => parse(["--id", "n1", "--cluster", "n1=127.0.0.1:7071", ...join]),
    /not both/,
  );
});
