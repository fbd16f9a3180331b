import assert from "node:assert/strict";
import {
  type LatencySummary,
  loadDefaults,
  type LoadOptions,
  type LoadReport,
  runLoad,
} from "../../bench/load.ts";
import { seededRandom, uniformChooser, zipfChooser } from "../../bench/load_dist.ts";
import { baselineHandler } from "../../bench/baseline_server.ts";
import { startNodeProcess } from "./node_process.ts";

const loadPath = new URL("../../bench/load.ts", import.meta.url).pathname;

function options(url: string, overrides: Partial<LoadOptions>): LoadOptions {
  return { ...loadDefaults, urls: [url], progress: null, ...overrides };
}

function assertOrdered(summary: LatencySummary, name: string): void {
  const chain = [summary.p50Ms, summary.p90Ms, summary.p99Ms, summary.p999Ms, summary.maxMs];
  for (let i = 1; i < chain.length; i++) {
    assert.ok(chain[i - 1] <= chain[i], `${name} percentiles out of order: ${chain}`);
  }
}

function assertConsistent(report: LoadReport): void {
  assert.equal(report.ops, report.reads + report.writes);
  const sum = (f: (e: LoadReport["timeline"][number]) => number) =>
    report.timeline.reduce((a, e) => a + f(e), 0);
  assert.equal(sum((e) => e.ops), report.ops);
  assert.equal(sum((e) => e.errors), report.errors);
  assert.equal(
    Object.values(report.errorsByKind).reduce((a, b) => a + b, 0),
    report.errors,
  );
  assert.equal(report.latency.all.count, report.ops - report.errors);
  assert.equal(report.latency.read.count + report.latency.write.count, report.latency.all.count);
  const entryMs = report.settings.timelineMs ?? 1000;
  report.timeline.forEach((entry, i) => assert.equal(entry.second, i * entryMs / 1000));
  const expected = (report.ops - report.errors) / report.elapsedS;
  assert.ok(Math.abs(report.throughputOpsPerS - expected) <= 1);
  assertOrdered(report.latency.all, "all");
  assertOrdered(report.latency.read, "read");
  assertOrdered(report.latency.write, "write");
}

Deno.test("load against a real node", async (t) => {
  const node = await startNodeProcess();
  try {
    await t.step(
      "a 2 s mixed run gives a consistent report and a timeline per second",
      async () => {
        const report = await runLoad(options(node.url, {
          connections: 8,
          durationS: 2,
          readRatio: 0.5,
          keys: 200,
          preload: true,
          distribution: "zipf",
        }));
        assertConsistent(report);
        assert.deepEqual(report.preload && [report.preload.keys, report.preload.errors], [200, 0]);
        assert.equal(report.errors, 0, JSON.stringify(report.errorsByKind));
        assert.equal(report.notFound, 0); // every key was preloaded
        assert.ok(report.reads > 0 && report.writes > 0);
        // A 2 s run; a loaded machine may stretch its drain, so bound it loosely.
        assert.ok(report.elapsedS >= 2 && report.elapsedS < 10, `${report.elapsedS} s`);
        assert.ok(
          report.timeline.length >= 2 && report.timeline.length <= Math.ceil(report.elapsedS) + 1,
          `${report.timeline.length} seconds in the timeline for ${report.elapsedS} s`,
        );
      },
    );

    await t.step("the CLI stops after --ops and writes the JSON report", async () => {
      const dir = await Deno.makeTempDir();
      try {
        const output = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            loadPath,
            "--url",
            node.url,
            "--ops",
            "300",
            "--connections",
            "4",
            "--read-ratio",
            "0",
            "--json",
            `${dir}/out.json`,
            "--quiet",
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
        const report: LoadReport = JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
        assertConsistent(report);
        assert.equal(report.ops, 300);
        assert.equal(report.writes, 300);
        assert.match(new TextDecoder().decode(output.stdout), /300 ops/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  } finally {
    await node.stop();
  }
});

Deno.test("errors are counted by kind when the node is not there", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const report = await runLoad(options(url, { connections: 2, durationS: 0.5, ops: 50 }));
  assertConsistent(report);
  assert.ok(report.ops > 0);
  assert.equal(report.errors, report.ops);
  assert.equal(report.errorsByKind["connection_refused"], report.ops);
  assert.equal(report.throughputOpsPerS, 0);
});

Deno.test("--target etcd speaks the v3 JSON gateway with base64 keys and values", async () => {
  const stored = new Map<string, string>();
  const seenPaths = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    seenPaths.add(path);
    const body = await req.json() as { key: string; value?: string };
    const key = atob(body.key);
    if (path === "/v3/kv/put") {
      stored.set(key, atob(body.value ?? ""));
      return Response.json({ header: {} });
    }
    const value = stored.get(key);
    return Response.json(
      value === undefined
        ? { header: {} }
        : { header: {}, kvs: [{ key: body.key, value: btoa(value) }], count: "1" },
    );
  });
  try {
    const report = await runLoad(options(`http://127.0.0.1:${server.addr.port}`, {
      target: "etcd",
      connections: 4,
      ops: 400,
      readRatio: 0.5,
      keys: 10_000,
      valueBytes: 16,
    }));
    assertConsistent(report);
    assert.equal(report.errors, 0);
    assert.deepEqual([...seenPaths].sort(), ["/v3/kv/put", "/v3/kv/range"]);
    assert.ok(report.notFound > 0 && report.notFound < report.reads);
    const [key, value] = [...stored.entries()][0];
    assert.match(key, /^load\/\d{10}$/);
    assert.match(value, /^[a-z]{16}$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the zipf chooser favours a few keys and the uniform one does not", () => {
  const seed = Number(Deno.env.get("LOAD_TEST_SEED") ?? Date.now() % 1_000_000);
  console.info(`seed ${seed} (set LOAD_TEST_SEED to reproduce)`);
  const keys = 1000;
  const draws = 100_000;
  const share = (choose: () => number) => {
    const counts = new Array(keys).fill(0);
    for (let i = 0; i < draws; i++) {
      const k = choose();
      assert.ok(Number.isInteger(k) && k >= 0 && k < keys, `out of range: ${k}`);
      counts[k]++;
    }
    return Math.max(...counts) / draws;
  };
  // With theta 0.99 over 1000 keys the hottest key gets about 1/zeta(1000) = 13% of draws.
  const zipfTop = share(zipfChooser(keys, seededRandom(seed)));
  assert.ok(zipfTop > 0.08 && zipfTop < 0.2, `zipf top share ${zipfTop}`);
  const uniformTop = share(uniformChooser(keys, seededRandom(seed)));
  assert.ok(uniformTop < 0.003, `uniform top share ${uniformTop}`);
});

Deno.test("rejects options past their limits with a message naming the flag", async () => {
  await assert.rejects(
    runLoad(options("http://127.0.0.1:9", { connections: 0 })),
    /--connections/,
  );
  await assert.rejects(runLoad(options("http://127.0.0.1:9", { readRatio: 2 })), /--read-ratio/);
  await assert.rejects(runLoad(options("http://127.0.0.1:9", { durationS: 1e9 })), /--duration/);
});

Deno.test("connections spread over every --url and move off a dead one", async () => {
  const counts = [0, 0];
  const servers = counts.map((_, i) => {
    const handler = baselineHandler();
    return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
      counts[i]++;
      return handler(request);
    });
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  try {
    const urls = [...servers.map((s) => `http://127.0.0.1:${s.addr.port}`), deadUrl];
    const report = await runLoad({
      ...loadDefaults,
      urls,
      progress: null,
      connections: 6,
      ops: 600,
      readRatio: 0,
    });
    assertConsistent(report);
    assert.ok(counts[0] > 100 && counts[1] > 100, `requests per node: ${counts}`);
    // Each of the 2 connections that started on the dead node fails once, then moves on.
    assert.equal(report.errors, 2);
    assert.deepEqual(report.errorsByKind, { connection_refused: 2 });
  } finally {
    for (const server of servers) await server.shutdown();
  }
});

Deno.test("--timeline-ms cuts the timeline into entries of that width with errors by kind", async () => {
  let requests = 0;
  const handler = baselineHandler();
  // Every tenth request fails, so that most entries hold both successes and errors.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => ++requests % 10 === 0 ? new Response(null, { status: 503 }) : handler(request),
  );
  const dir = await Deno.makeTempDir();
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        loadPath,
        "--url",
        `http://127.0.0.1:${server.addr.port}`,
        "--duration",
        "1s",
        "--connections",
        "4",
        "--read-ratio",
        "0",
        "--timeline-ms",
        "100",
        "--json",
        `${dir}/out.json`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    const report: LoadReport = JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
    assertConsistent(report);
    assert.equal(report.settings.timelineMs, 100);
    assert.ok(report.errors > 0, "the stub failed every tenth request");
    const entries = report.timeline;
    // A 1 s run in 100 ms entries; a loaded machine may stretch its drain, so bound it loosely.
    assert.ok(
      entries.length >= 10 && entries.length <= Math.ceil(report.elapsedS * 10) + 1,
      `${entries.length} entries for ${report.elapsedS} s`,
    );
    entries.forEach((entry, i) => {
      assert.equal(entry.startMs, i * 100);
      const kinds = entry.errorsByKind ?? {};
      assert.deepEqual(Object.keys(kinds).filter((k) => k !== "http_503"), []);
      assert.equal(kinds["http_503"] ?? 0, entry.errors, `entry ${i}`);
    });
    // One progress line per entry, labelled with the entry's end.
    assert.match(stderr, /\[\s*0\.1s\].*\n\[\s*0\.2s\]/);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without --timeline-ms the timeline keeps one-second entries and their old fields", async () => {
  const handler = baselineHandler();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    const report = await runLoad(
      options(`http://127.0.0.1:${server.addr.port}`, { connections: 2, durationS: 1.2 }),
    );
    assertConsistent(report);
    assert.equal("timelineMs" in report.settings, false);
    for (const entry of report.timeline) {
      assert.deepEqual(Object.keys(entry), [
        "second",
        "ops",
        "errors",
        "throughputOpsPerS",
        "p99Ms",
      ]);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("rejects a --timeline-ms outside 10..60000 or not whole", async () => {
  for (const timelineMs of [9, 60_001, 10.5, Number.NaN]) {
    await assert.rejects(
      runLoad(options("http://127.0.0.1:9", { timelineMs })),
      /--timeline-ms must be a whole number of ms within 10\.\.60000/,
      String(timelineMs),
    );
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", loadPath, "--url", "http://127.0.0.1:9", "--timeline-ms", "5"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /--timeline-ms must be a whole number/);
});
