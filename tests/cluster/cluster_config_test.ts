import assert from "node:assert/strict";
import { readClusterSecret } from "../../src/cluster/mod.ts";
import { type Config, ConfigError, parseConfig } from "../../src/config.ts";

function parse(args: string[], env: Record<string, string> = {}): Config {
  const parsed = parseConfig(args, { env });
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.config;
}

const members = "n1=127.0.0.1:7071,n2=127.0.0.1:7171,n3=127.0.0.1:7271";

Deno.test("without --cluster the node stays standalone", () => {
  assert.equal(parse([]).cluster, undefined);
});

Deno.test("--cluster lists the voters and --peer sets this node's peer listener", () => {
  const c = parse(["--id", "n2", "--cluster", members, "--peer", "0.0.0.0:7171"]).cluster!;
  assert.deepEqual(c.members, { n1: "127.0.0.1:7071", n2: "127.0.0.1:7171", n3: "127.0.0.1:7271" });
  assert.deepEqual([c.peerHost, c.peerPort], ["0.0.0.0", 7171]);
});

Deno.test("the peer listener defaults to this node's --cluster entry", () => {
  const c = parse(["--id", "n3", "--cluster", members]).cluster!;
  assert.deepEqual([c.peerHost, c.peerPort], ["127.0.0.1", 7271]);
});

Deno.test("rejects a --cluster that does not name this node", () => {
  assert.throws(() => parse(["--id", "n9", "--cluster", members]), /does not name this node/);
});

Deno.test("rejects a --cluster entry that is not id=host:port or names a node twice", () => {
  for (const bad of ["n1", "n1=127.0.0.1", "=1.2.3.4:5", "n1=127.0.0.1:1,n1=127.0.0.1:2"]) {
    assert.throws(() => parse(["--id", "n1", "--cluster", bad]), ConfigError, bad);
  }
});

Deno.test("rejects --peer or --secret-file without --cluster", () => {
  assert.throws(() => parse(["--peer", "127.0.0.1:7071"]), /needs --cluster/);
  assert.throws(() => parse(["--secret-file", "s"]), /needs --cluster/);
});

Deno.test("rejects a heartbeat interval not below the election timeout", () => {
  const args = ["--id", "n1", "--cluster", members, "--raft-election-ticks", "4"];
  assert.throws(() => parse([...args, "--raft-heartbeat-ticks", "4"]), /heartbeat/);
  assert.equal(parse([...args, "--raft-heartbeat-ticks", "3"]).raft.heartbeatTicks, 3);
});

Deno.test("a standalone node has Raft settings too, and any --sync; a member only --sync always", () => {
  const alone = parse(["--sync", "none", "--raft-tick-ms", "7"]);
  assert.equal(alone.cluster, undefined);
  assert.equal(alone.raft.tickMs, 7);
  assert.equal(alone.sync, "none");
  for (const mode of ["interval", "none"]) {
    assert.throws(
      () => parse(["--id", "n1", "--cluster", members, "--sync", mode]),
      /--sync .*standalone node/,
    );
  }
  assert.equal(parse(["--id", "n1", "--cluster", members]).sync, "always");
});

Deno.test("the cluster secret comes from --secret-file, else from RINGKV_CLUSTER_SECRET", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ringkv_secret_" });
  try {
    const file = `${dir}/secret`;
    await Deno.writeTextFile(file, "file-secret-0123456789\n");
    const withFile = parse(["--id", "n1", "--cluster", members, "--secret-file", file]).cluster!;
    assert.equal(await readClusterSecret(withFile), "file-secret-0123456789");
    const withEnv = parse(["--id", "n1", "--cluster", members]).cluster!;
    const env = { RINGKV_CLUSTER_SECRET: "env-secret-0123456789" };
    assert.equal(await readClusterSecret(withEnv, { env }), "env-secret-0123456789");
    await assert.rejects(readClusterSecret(withEnv, { env: {} }), /cluster secret/);
    await assert.rejects(readClusterSecret(withEnv, { env: { RINGKV_CLUSTER_SECRET: "short" } }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
