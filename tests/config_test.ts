import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  configSummary,
  defaultConfig,
  helpText,
  parseConfig,
} from "../src/config.ts";

function parse(args: string[], env: Record<string, string> = {}): Config {
  const parsed = parseConfig(args, { env });
  assert.equal(parsed.help, false);
  return (parsed as { config: Config }).config;
}

Deno.test("defaults serve on 127.0.0.1:7070 with data in ./data and durable sync", () => {
  const config = defaultConfig();
  assert.equal(config.httpHost, "127.0.0.1");
  assert.equal(config.httpPort, 7070);
  assert.equal(config.dataDir, "./data");
  assert.equal(config.sync, "always");
  assert.deepEqual(config.authTokens, []);
  assert.equal(config.listLimitMax, 1000);
  assert.equal(config.keyBytesMax, 1024);
  assert.equal(config.valueBytesMax, 1024 * 1024);
});

Deno.test("flags win over env, env over the config file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/c.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ id: "file", "data-dir": "/f", "log-level": "warn" }),
    );
    const config = parse(["--config", file, "--id", "flag"], {
      RINGKV_ID: "env",
      RINGKV_DATA_DIR: "/e",
    });
    assert.equal(config.id, "flag");
    assert.equal(config.dataDir, "/e");
    assert.equal(config.logLevel, "warn");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth tokens repeat as flags and are comma separated in env", () => {
  assert.deepEqual(parse(["--auth-token", "a", "--auth-token", "b"]).authTokens, ["a", "b"]);
  assert.deepEqual(parse([], { RINGKV_AUTH_TOKEN: "x,y" }).authTokens, ["x", "y"]);
});

Deno.test("byte sizes accept KiB, MiB and GiB suffixes", () => {
  const config = parse([
    "--cache-bytes",
    "2MiB",
    "--value-bytes-max",
    "64KiB",
    "--disk-quota",
    "1GiB",
  ]);
  assert.equal(config.cacheBytesMax, 2 * 1024 * 1024);
  assert.equal(config.valueBytesMax, 64 * 1024);
  assert.equal(config.diskBytesMax, 1024 ** 3);
});

Deno.test("--http parses host:port including IPv6 and port 0", () => {
  const v4 = parse(["--http", "0.0.0.0:0"]);
  assert.equal(v4.httpHost, "0.0.0.0");
  assert.equal(v4.httpPort, 0);
  const v6 = parse(["--http", "[::1]:8080"]);
  assert.equal(v6.httpHost, "::1");
  assert.equal(v6.httpPort, 8080);
});

Deno.test("invalid values are rejected with the flag's name and what is allowed", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--sync", "sometimes"], {}, /--sync.*always, interval, none/],
    [["--http", "7070"], {}, /--http.*host:port/],
    [["--http", "h:70000"], {}, /--http/],
    [["--value-bytes-max", "1TiB"], {}, /--value-bytes-max/],
    [["--value-bytes-max", "128MiB"], {}, /--value-bytes-max.*out of range/],
    [["--list-limit-max", "0"], {}, /--list-limit-max.*out of range/],
    [[], { RINGKV_BATCH_OPS_MAX: "many" }, /RINGKV_BATCH_OPS_MAX.*integer/],
    [["--tls-cert", "c.pem"], {}, /--tls-cert and --tls-key/],
    [["--bogus"], {}, /bogus/],
    [["--id", "has space"], {}, /--id/],
  ];
  for (const [args, env, pattern] of cases) {
    assert.throws(
      () => parseConfig(args, { env }),
      (e) => e instanceof ConfigError && pattern.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("a config file with an unknown key or bad JSON is rejected", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.json`, '{"dataDir": "x"}');
    await Deno.writeTextFile(`${dir}/b.json`, "{nope");
    assert.throws(() => parse(["--config", `${dir}/a.json`]), /unknown key "dataDir"/);
    assert.throws(() => parse(["--config", `${dir}/b.json`]), /not valid JSON/);
    assert.throws(() => parse(["--config", `${dir}/missing.json`]), /cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--help is recognised and the help text lists every flag with its default", () => {
  assert.deepEqual(parseConfig(["--help"], { env: {} }), { help: true });
  const text = helpText();
  for (
    const flag of [
      "--id",
      "--http",
      "--data-dir",
      "--auth-token",
      "--tls-cert",
      "--tls-key",
      "--sync",
      "--log-level",
      "--list-limit-max",
      "--disk-quota",
    ]
  ) {
    assert.ok(text.includes(flag), flag);
  }
  assert.match(text, /default: 127\.0\.0\.1:7070/);
});

Deno.test("the config summary carries no tokens", () => {
  const summary = JSON.stringify(configSummary(parse(["--auth-token", "topsecret"])));
  assert.ok(!summary.includes("topsecret"));
  assert.match(summary, /"auth":true/);
});
