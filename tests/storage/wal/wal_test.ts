/** Behaviour of the shared WAL: appends, reads, group commit, truncation, markers, limits. */
import assert from "node:assert/strict";
import {
  DirectoryLockedError,
  openWal,
  StoreClosedError,
  WalCompactedError,
  WalInvalidAppendError,
  WalQueueFullError,
  WalRecordTooLargeError,
  WalUnavailableError,
} from "../../../src/storage/wal/mod.ts";
import { b, datas, makeEntries, walFiles, withTempDir, withWal } from "./helpers.ts";

Deno.test("round-trips entries and hard states of several groups", async () => {
  await withWal({}, async (wal) => {
    for (const g of [0, 1, 7, 4_000_000_000]) {
      await wal.append(g, {
        entries: makeEntries(g, 1, 5, 2),
        hardState: { term: 2, vote: `n${g}`, commit: 3 },
      });
    }
    assert.deepEqual(wal.groups(), [0, 1, 7, 4_000_000_000]);
    for (const g of [0, 1, 7, 4_000_000_000]) {
      assert.equal(wal.firstIndex(g), 1);
      assert.equal(wal.lastIndex(g), 5);
      assert.deepEqual(datas(wal.entries(g, 1, 6)), datas(makeEntries(g, 1, 5, 2)));
      assert.deepEqual(wal.hardState(g), { term: 2, vote: `n${g}`, commit: 3 });
      assert.equal(wal.term(g, 5), 2);
    }
    assert.deepEqual(wal.hardState(99), { term: 0, vote: null, commit: 0 });
    assert.equal(wal.lastIndex(99), 0);
  });
});

Deno.test("keeps a null vote and an entry's type byte", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    await wal.append(3, {
      entries: [{ index: 1, term: 1, type: 200, data: new Uint8Array(0) }],
      hardState: { term: 1, vote: null, commit: 0 },
    });
    await wal.close();
    const again = await openWal(dir);
    try {
      const [e] = again.entries(3, 1, 2);
      assert.equal(e.type, 200);
      assert.equal(e.data.byteLength, 0);
      assert.deepEqual(again.hardState(3), { term: 1, vote: null, commit: 0 });
    } finally {
      await again.close();
    }
  });
});

Deno.test("appends from many groups in the same tick share one write and one sync", async () => {
  await withWal({}, async (wal) => {
    const before = wal.stats();
    const appends = [];
    for (let i = 0; i < 64; i++) {
      const g = i % 8;
      const index = Math.floor(i / 8) + 1;
      appends.push(wal.append(g, { entries: makeEntries(g, index, index, 1) }));
    }
    await Promise.all(appends);
    const after = wal.stats();
    assert.equal(after.appends - before.appends, 64);
    assert.equal(after.syncs - before.syncs, 1);
    assert.equal(after.flushes - before.flushes, 1);
    for (let g = 0; g < 8; g++) assert.equal(wal.lastIndex(g), 8);
  });
});

Deno.test("appends issued while a sync runs are batched into the next flush", async () => {
  await withWal({}, async (wal) => {
    const before = wal.stats();
    const appenders = [];
    for (let g = 0; g < 32; g++) {
      appenders.push((async () => {
        for (let i = 1; i <= 20; i++) await wal.append(g, { entries: makeEntries(g, i, i, 1) });
      })());
    }
    await Promise.all(appenders);
    const after = wal.stats();
    assert.equal(after.appends - before.appends, 640);
    // 32 appenders each waiting on their own previous append: about one sync per round.
    assert.ok(
      after.syncs - before.syncs <= 64,
      `${after.syncs - before.syncs} syncs for 640 appends`,
    );
  });
});

Deno.test("recovers every group's entries and hard state after a restart", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    for (let g = 0; g < 5; g++) {
      await wal.append(g, { entries: makeEntries(g, 1, 10 + g, 3) });
      await wal.append(g, { hardState: { term: 3, vote: "a", commit: 4 + g } });
      await wal.append(g, { hardState: { term: 4, vote: null, commit: 5 + g } });
    }
    await wal.close();
    const again = await openWal(dir);
    try {
      assert.deepEqual(again.groups(), [0, 1, 2, 3, 4]);
      for (let g = 0; g < 5; g++) {
        assert.equal(again.lastIndex(g), 10 + g);
        assert.deepEqual(datas(again.entries(g, 1, 11 + g)), datas(makeEntries(g, 1, 10 + g, 3)));
        assert.deepEqual(again.hardState(g), { term: 4, vote: null, commit: 5 + g });
      }
    } finally {
      await again.close();
    }
  });
});

Deno.test("truncateFrom drops the tail and new entries take its place, across a restart", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    await wal.append(1, { entries: makeEntries(1, 1, 10, 1) });
    await wal.append(2, { entries: makeEntries(2, 1, 10, 1) });
    await wal.append(1, { truncateFrom: 6 });
    assert.equal(wal.lastIndex(1), 5);
    assert.throws(() => wal.entries(1, 5, 7), WalUnavailableError);
    await wal.append(1, { entries: makeEntries(1, 6, 7, 2) });
    await wal.close();
    const again = await openWal(dir);
    try {
      assert.equal(again.lastIndex(1), 7);
      assert.deepEqual(
        datas(again.entries(1, 1, 8)),
        datas([...makeEntries(1, 1, 5, 1), ...makeEntries(1, 6, 7, 2)]),
      );
      assert.equal(again.lastIndex(2), 10, "another group's log is untouched");
    } finally {
      await again.close();
    }
  });
});

Deno.test("entries starting inside the log replace the tail from their first index", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    await wal.append(1, { entries: makeEntries(1, 1, 10, 1) });
    await wal.append(1, { entries: makeEntries(1, 4, 5, 3) });
    assert.equal(wal.lastIndex(1), 5);
    assert.equal(wal.term(1, 4), 3);
    await wal.close();
    const again = await openWal(dir);
    try {
      assert.equal(again.lastIndex(1), 5);
      assert.deepEqual(
        datas(again.entries(1, 3, 6)),
        datas([
          ...makeEntries(1, 3, 3, 1),
          ...makeEntries(1, 4, 5, 3),
        ]),
      );
    } finally {
      await again.close();
    }
  });
});

Deno.test("rejects an append that would leave a gap and writes nothing of it", async () => {
  await withWal({}, async (wal) => {
    await wal.append(1, { entries: makeEntries(1, 1, 3, 1) });
    await assert.rejects(
      wal.append(1, {
        entries: makeEntries(1, 5, 6, 1),
        hardState: { term: 9, vote: null, commit: 0 },
      }),
      WalInvalidAppendError,
    );
    assert.equal(wal.lastIndex(1), 3);
    assert.equal(wal.hardState(1).term, 0);
    await assert.rejects(wal.append(1, { truncateFrom: 9 }), WalInvalidAppendError);
    await assert.rejects(
      wal.append(1, { entries: [...makeEntries(1, 4, 4, 1), ...makeEntries(1, 6, 6, 1)] }),
      WalInvalidAppendError,
    );
  });
});

Deno.test("an invalid append fails alone; the others of the same flush become durable", async () => {
  await withWal({}, async (wal) => {
    const results = await Promise.allSettled([
      wal.append(1, { entries: makeEntries(1, 1, 2, 1) }),
      wal.append(1, { entries: makeEntries(1, 5, 5, 1) }),
      wal.append(1, { entries: makeEntries(1, 3, 3, 1) }),
      wal.append(2, { entries: makeEntries(2, 1, 1, 1) }),
    ]);
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof WalInvalidAppendError);
    assert.equal(wal.lastIndex(1), 3);
    assert.equal(wal.lastIndex(2), 1);
  });
});

Deno.test("a matching snapshot marker keeps the suffix; a foreign one drops the log", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    await wal.append(1, { entries: makeEntries(1, 1, 10, 2) });
    await wal.markSnapshot(1, 4, 2);
    assert.equal(wal.firstIndex(1), 5);
    assert.equal(wal.lastIndex(1), 10);
    assert.equal(wal.term(1, 4), 2);
    assert.throws(() => wal.term(1, 3), WalCompactedError);
    assert.throws(() => wal.entries(1, 4, 6), WalCompactedError);
    await wal.append(2, { entries: makeEntries(2, 1, 10, 2) });
    await wal.markSnapshot(2, 7, 5);
    assert.equal(wal.firstIndex(2), 8);
    assert.equal(wal.lastIndex(2), 7);
    await assert.rejects(
      wal.append(2, { entries: makeEntries(2, 7, 7, 5) }),
      WalInvalidAppendError,
    );
    await wal.append(2, { entries: makeEntries(2, 8, 8, 5) });
    await wal.close();
    const again = await openWal(dir);
    try {
      assert.deepEqual(again.snapshotMark(1), { index: 4, term: 2 });
      assert.deepEqual(datas(again.entries(1, 5, 11)), datas(makeEntries(1, 5, 10, 2)));
      assert.equal(again.firstIndex(2), 8);
      assert.deepEqual(datas(again.entries(2, 8, 9)), datas(makeEntries(2, 8, 8, 5)));
    } finally {
      await again.close();
    }
  });
});

Deno.test("term() answers 0 at index 0 of a new group and throws beyond lastIndex", async () => {
  await withWal({}, async (wal) => {
    assert.equal(wal.term(5, 0), 0);
    assert.throws(() => wal.term(5, 1), WalUnavailableError);
    await wal.append(5, { entries: makeEntries(5, 1, 2, 1) });
    assert.equal(wal.term(5, 0), 0);
    assert.throws(() => wal.term(5, 3), WalUnavailableError);
  });
});

Deno.test("entries() stops at bytesMax but always returns at least one entry", async () => {
  await withWal({}, async (wal) => {
    const entries = [1, 2, 3, 4].map((i) => ({
      index: i,
      term: 1,
      type: 0,
      data: new Uint8Array(100).fill(i),
    }));
    await wal.append(1, { entries });
    assert.equal(wal.entries(1, 1, 5, 250).length, 2);
    assert.equal(wal.entries(1, 1, 5, 10).length, 1);
    assert.equal(wal.entries(1, 1, 5).length, 4);
    assert.equal(wal.entries(1, 3, 3).length, 0);
  });
});

Deno.test("entries evicted from the memory cache are read back from the files", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, { cacheBytesMax: 1000, segmentBytesMax: 4096 });
    try {
      for (let i = 1; i <= 100; i++) {
        await wal.append(1, {
          entries: [{ index: i, term: 1, type: 0, data: new Uint8Array(100).fill(i) }],
        });
      }
      assert.ok(wal.stats().cachedBytes <= 1000);
      assert.ok(walFiles(dir).length > 2);
      const got = wal.entries(1, 1, 101);
      assert.equal(got.length, 100);
      for (const e of got) assert.ok(e.data.every((x) => x === e.index), `entry ${e.index}`);
      assert.ok(wal.stats().fileReads >= 90);
    } finally {
      await wal.close();
    }
  });
});

Deno.test("rejects an entry longer than entryBytesMax and a vote longer than voteBytesMax", async () => {
  await withWal({ entryBytesMax: 1024, appendBytesMax: 4096, voteBytesMax: 8 }, async (wal) => {
    await assert.rejects(
      wal.append(1, { entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array(1025) }] }),
      WalRecordTooLargeError,
    );
    await assert.rejects(
      wal.append(1, { hardState: { term: 1, vote: "123456789", commit: 0 } }),
      WalRecordTooLargeError,
    );
    const many = [1, 2, 3, 4, 5].map((i) => ({
      index: i,
      term: 1,
      type: 0,
      data: new Uint8Array(1000),
    }));
    await assert.rejects(wal.append(1, { entries: many }), WalRecordTooLargeError);
    assert.equal(wal.lastIndex(1), 0);
    assert.equal(wal.stats().appends, 0);
  });
});

Deno.test("refuses appends beyond appendQueueMax with WalQueueFullError", async () => {
  await withWal({ appendQueueMax: 4 }, async (wal) => {
    const first = [1, 2, 3, 4].map((g) => wal.append(g, { entries: makeEntries(g, 1, 1, 1) }));
    await assert.rejects(wal.append(5, { entries: makeEntries(5, 1, 1, 1) }), WalQueueFullError);
    await Promise.all(first);
    await wal.append(5, { entries: makeEntries(5, 1, 1, 1) });
    assert.equal(wal.lastIndex(5), 1);
  });
});

Deno.test("rejects group ids outside u32 and malformed entries", async () => {
  await withWal({}, async (wal) => {
    await assert.rejects(
      wal.append(-1, { entries: makeEntries(0, 1, 1, 1) }),
      WalInvalidAppendError,
    );
    await assert.rejects(
      wal.append(2 ** 32, { entries: makeEntries(0, 1, 1, 1) }),
      WalInvalidAppendError,
    );
    await assert.rejects(
      wal.append(1, { entries: [{ index: 1, term: 1, type: 256, data: b("x") }] }),
      WalInvalidAppendError,
    );
    await assert.rejects(
      wal.append(1, { entries: [{ index: 1.5, term: 1, type: 0, data: b("x") }] }),
      WalInvalidAppendError,
    );
    await assert.rejects(
      wal.append(1, { entries: [...makeEntries(1, 1, 1, 3), ...makeEntries(1, 2, 2, 2)] }),
      WalInvalidAppendError,
    );
  });
});

Deno.test("a second opener of the directory gets DirectoryLockedError, in this process and another", async () => {
  await withWal({}, async (_wal, dir) => {
    await assert.rejects(openWal(dir), DirectoryLockedError);
    const script = `
      import { openWal } from "${new URL("../../../src/storage/wal/mod.ts", import.meta.url).href}";
      try { await openWal(${JSON.stringify(dir)}); console.log("opened"); }
      catch (err) { console.log(err.name + ":" + err.code + ":" + err.message); }
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    assert.match(text, /^StoreError:locked:WAL directory .* is locked by pid=\d+/);
  });
});

Deno.test("reopens after close and rejects appends on a closed WAL", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    await wal.append(1, { entries: makeEntries(1, 1, 1, 1) });
    await wal.close();
    await assert.rejects(wal.append(1, { entries: makeEntries(1, 2, 2, 1) }), StoreClosedError);
    const again = await openWal(dir);
    assert.equal(again.lastIndex(1), 1);
    await again.close();
  });
});

Deno.test("rolls to a new file at segmentBytesMax and reads across files after a restart", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, { segmentBytesMax: 2048 });
    for (let i = 1; i <= 200; i++) {
      await wal.append(i % 3, {
        entries: makeEntries(i % 3, Math.floor((i - 1) / 3) + 1, Math.floor((i - 1) / 3) + 1, 1),
      });
    }
    await wal.close();
    assert.ok(walFiles(dir).length >= 4, `${walFiles(dir).length} files`);
    const again = await openWal(dir, { segmentBytesMax: 2048 });
    try {
      for (let g = 0; g < 3; g++) {
        const last = again.lastIndex(g);
        assert.ok(last >= 66);
        assert.deepEqual(datas(again.entries(g, 1, last + 1)), datas(makeEntries(g, 1, last, 1)));
      }
    } finally {
      await again.close();
    }
  });
});

Deno.test("a flush writes at most about flushBytesMax; the rest wait for the next one", async () => {
  await withWal({ flushBytesMax: 1000 }, async (wal) => {
    const before = wal.stats().syncs;
    const data = new Uint8Array(400);
    await Promise.all(
      [1, 2, 3, 4, 5, 6].map((g) =>
        wal.append(g, { entries: [{ index: 1, term: 1, type: 0, data }] })
      ),
    );
    // 430-byte appends: two fit in 1000 bytes, so six appends take three flushes.
    assert.equal(wal.stats().syncs - before, 3);
    for (const g of [1, 2, 3, 4, 5, 6]) assert.equal(wal.lastIndex(g), 1);
  });
});

Deno.test("refuses a new group beyond groupsMax and keeps serving the known ones", async () => {
  await withWal({ groupsMax: 2 }, async (wal) => {
    await wal.append(1, { entries: makeEntries(1, 1, 1, 1) });
    await wal.append(2, { entries: makeEntries(2, 1, 1, 1) });
    await assert.rejects(
      wal.append(3, { entries: makeEntries(3, 1, 1, 1) }),
      WalInvalidAppendError,
    );
    await wal.append(1, { entries: makeEntries(1, 2, 2, 1) });
    assert.deepEqual(wal.groups(), [1, 2]);
  });
  await withTempDir(async (dir) => {
    await (await openWal(dir)).close();
    const again = await openWal(dir, { groupsMax: 1 });
    try {
      assert.deepEqual(again.groups(), [], "file checkpoints create no groups");
      await again.append(5, { entries: makeEntries(5, 1, 1, 1) });
    } finally {
      await again.close();
    }
  });
});
