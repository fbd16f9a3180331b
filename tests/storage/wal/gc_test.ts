/** Snapshot markers, release points and deletion of WAL files no group needs. */
import assert from "node:assert/strict";
import { openWal, WalCompactedError, WalInvalidAppendError } from "../../../src/storage/wal/mod.ts";
import { join } from "node:path";
import { decodeRecord } from "../../../src/storage/wal/record.ts";
import { datas, makeEntries, waitFor, walFiles, withTempDir } from "./helpers.ts";

/** Every flush rolls the file: each append (or each tick's appends) gets its own file. */
const ROLL_EVERY_FLUSH = { segmentBytesMax: 64 };

Deno.test("closed files are kept while any group still needs them and deleted once all release them", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, ROLL_EVERY_FLUSH);
    try {
      // file 1: groups 1 and 2, entries 1..10 (one flush); file 2: group 1, entries 11..20.
      await Promise.all([
        wal.append(1, { entries: makeEntries(1, 1, 10, 1) }),
        wal.append(2, { entries: makeEntries(2, 1, 10, 1) }),
      ]);
      await wal.append(1, { entries: makeEntries(1, 11, 20, 1) });
      await wal.settle();
      const files = walFiles(dir);
      assert.equal(files.length, 3);
      wal.releaseBefore(1, 21);
      await wal.settle();
      // Group 2 still needs file 1, and only files before a valid replay start go: none yet.
      assert.deepEqual(walFiles(dir), files);
      assert.equal(wal.firstIndex(1), 1);
      wal.releaseBefore(2, 5);
      await wal.settle();
      assert.deepEqual(walFiles(dir), files, "group 2 still needs entries 5..10 of file 1");
      wal.releaseBefore(2, 11);
      await wal.settle();
      assert.deepEqual(walFiles(dir), [files[2]]);
      assert.equal(wal.stats().filesDeleted, 2);
      assert.equal(wal.firstIndex(1), 21);
      assert.equal(wal.term(1, 20), 1);
      assert.throws(() => wal.entries(1, 20, 21), WalCompactedError);
      assert.equal(wal.firstIndex(2), 11);
      assert.equal(wal.term(2, 10), 1);
    } finally {
      await wal.close();
    }
  });
});

Deno.test("a file whose entries a later truncation reaches back into is kept", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, ROLL_EVERY_FLUSH);
    try {
      await wal.append(1, { entries: makeEntries(1, 1, 10, 1) }); // file 1
      await wal.append(1, { entries: makeEntries(1, 11, 12, 1) }); // file 2 (checkpoint: last 10)
      await wal.append(1, { truncateFrom: 8, entries: makeEntries(1, 8, 12, 2) }); // file 3
      wal.releaseBefore(1, 11);
      await wal.settle();
      // A replay starting at file 2 would miss entries 8..10 that file 3 rewrites: keep file 1.
      assert.equal(wal.stats().filesDeleted, 0);
      wal.releaseBefore(1, 13);
      await wal.settle();
      assert.equal(wal.stats().filesDeleted, 3);
      assert.equal(wal.firstIndex(1), 13);
      assert.equal(wal.term(1, 12), 2);
    } finally {
      await wal.close();
    }
  });
});

Deno.test("entries below a snapshot marker free their files without a release", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, ROLL_EVERY_FLUSH);
    try {
      await wal.append(1, { entries: makeEntries(1, 1, 10, 1) });
      await wal.append(1, { entries: makeEntries(1, 11, 20, 1) });
      const before = walFiles(dir);
      await wal.markSnapshot(1, 15, 1);
      await waitFor(() => !walFiles(dir).includes(before[0]), { what: "file 1 deleted" });
      assert.ok(walFiles(dir).includes(before[1]), "entries 16..20 keep file 2");
      assert.deepEqual(datas(wal.entries(1, 16, 21)), datas(makeEntries(1, 16, 20, 1)));
    } finally {
      await wal.close();
    }
  });
});

Deno.test("after files are deleted and the WAL restarts, a group's log starts where they ended", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, ROLL_EVERY_FLUSH);
    await wal.append(1, { entries: makeEntries(1, 1, 10, 1) }); // file 1
    await Promise.all([
      wal.append(1, { entries: makeEntries(1, 11, 20, 2) }), // file 2, kept for group 2
      wal.append(2, { entries: makeEntries(2, 1, 5, 1) }),
    ]);
    await wal.append(1, { hardState: { term: 2, vote: "n1", commit: 18 } });
    wal.releaseBefore(1, 16);
    await waitFor(() => wal.stats().filesDeleted >= 1, { what: "file 1 deleted" });
    assert.equal(wal.firstIndex(1), 11);
    await wal.close();
    const again = await openWal(dir, ROLL_EVERY_FLUSH);
    try {
      assert.equal(again.firstIndex(1), 11);
      assert.equal(again.term(1, 10), 1);
      assert.equal(again.lastIndex(1), 20);
      assert.deepEqual(datas(again.entries(1, 11, 21)), datas(makeEntries(1, 11, 20, 2)));
      assert.deepEqual(again.hardState(1), { term: 2, vote: "n1", commit: 18 });
      assert.deepEqual(datas(again.entries(2, 1, 6)), datas(makeEntries(2, 1, 5, 1)));
    } finally {
      await again.close();
    }
  });
});

Deno.test("hard states and markers survive the deletion of every file that held them", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, ROLL_EVERY_FLUSH);
    await wal.append(1, {
      entries: makeEntries(1, 1, 3, 1),
      hardState: { term: 1, vote: "n2", commit: 3 },
    });
    await wal.append(2, {
      entries: makeEntries(2, 1, 3, 4),
      hardState: { term: 4, vote: null, commit: 1 },
    });
    await wal.markSnapshot(2, 2, 4);
    wal.releaseBefore(1, 4);
    wal.releaseBefore(2, 4);
    await waitFor(() => walFiles(dir).length === 1, { what: "only the active file left" });
    await wal.close();
    const again = await openWal(dir);
    try {
      assert.deepEqual(again.hardState(1), { term: 1, vote: "n2", commit: 3 });
      assert.deepEqual(again.hardState(2), { term: 4, vote: null, commit: 1 });
      assert.equal(again.firstIndex(1), 4);
      assert.equal(again.term(1, 3), 1);
      assert.deepEqual(again.snapshotMark(2), { index: 3, term: 4 });
      await again.append(1, { entries: makeEntries(1, 4, 4, 1) });
      await assert.rejects(
        again.append(1, { entries: makeEntries(1, 3, 3, 1) }),
        WalInvalidAppendError,
      );
    } finally {
      await again.close();
    }
  });
});

Deno.test("releaseBefore beyond lastIndex + 1 is refused", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir);
    try {
      await wal.append(1, { entries: makeEntries(1, 1, 3, 1) });
      assert.throws(() => wal.releaseBefore(1, 5), WalInvalidAppendError);
      wal.releaseBefore(1, 4);
    } finally {
      await wal.close();
    }
  });
});

Deno.test("the file count stays bounded while groups keep appending and releasing", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, { segmentBytesMax: 4096 });
    try {
      for (let round = 0; round < 50; round++) {
        const base = round * 10;
        await Promise.all(
          [0, 1, 2, 3].map((g) =>
            wal.append(g, { entries: makeEntries(g, base + 1, base + 10, 1) })
          ),
        );
        for (const g of [0, 1, 2, 3]) wal.releaseBefore(g, Math.max(1, base - 20));
      }
      await wal.settle();
      assert.ok(wal.stats().filesDeleted > 5, `deleted ${wal.stats().filesDeleted}`);
      assert.ok(walFiles(dir).length <= 4, `${walFiles(dir).length} files left`);
      for (const g of [0, 1, 2, 3]) {
        assert.deepEqual(datas(wal.entries(g, 480, 501)), datas(makeEntries(g, 480, 500, 1)));
      }
    } finally {
      await wal.close();
    }
  });
});

Deno.test("files left below the recorded start by an interrupted collection are removed at open", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, ROLL_EVERY_FLUSH);
    await wal.append(1, { entries: makeEntries(1, 1, 5, 1) });
    await wal.append(1, { entries: makeEntries(1, 6, 10, 1) });
    await wal.settle();
    const before = walFiles(dir);
    const oldest = Deno.readFileSync(join(dir, before[0]));
    wal.releaseBefore(1, 11);
    await wal.settle();
    assert.ok(!walFiles(dir).includes(before[0]));
    await wal.close();
    // As if the process died after moving the start but before deleting the file.
    Deno.writeFileSync(join(dir, before[0]), oldest);
    const again = await openWal(dir);
    try {
      assert.ok(!walFiles(dir).includes(before[0]));
      assert.equal(again.firstIndex(1), 11);
      assert.equal(again.term(1, 10), 1);
    } finally {
      await again.close();
    }
  });
});

Deno.test("file deletion keeps up while appends never stop", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, { segmentBytesMax: 8 * 1024 });
    try {
      let stop = false;
      let finished = 0;
      const appenders = [0, 1, 2, 3].map(async (g) => {
        for (let i = 1; i <= 100_000 && !stop; i++) {
          await wal.append(g, { entries: makeEntries(g, i, i, 1) });
          if (i > 20) wal.releaseBefore(g, i - 10);
        }
        finished++;
      });
      await waitFor(() => wal.stats().filesDeleted >= 5, {
        what: "files deleted under load",
        timeoutMs: 20_000,
      });
      assert.equal(finished, 0, "appends were still flowing");
      stop = true;
      await Promise.all(appenders);
      assert.ok(wal.stats().files <= 6, `${wal.stats().files} files`);
    } finally {
      await wal.close();
    }
  });
});

Deno.test("a file torn inside its checkpoint never becomes the replay start", async () => {
  await withTempDir(async (dir) => {
    const first = await openWal(dir);
    await first.append(1, {
      entries: makeEntries(1, 1, 3, 1),
      hardState: { term: 1, vote: "a", commit: 3 },
    });
    await first.append(2, {
      entries: makeEntries(2, 1, 3, 1),
      hardState: { term: 1, vote: "b", commit: 2 },
    });
    await first.close();
    // Open once more: the new file's checkpoint holds groups 1 and 2. Tear it after group 1,
    // as a crash while starting the file would.
    await (await openWal(dir)).close();
    const newest = join(dir, walFiles(dir).at(-1)!);
    const bytes = Deno.readFileSync(newest);
    let offset = 8;
    for (let i = 0; i < 2; i++) {
      const res = decodeRecord(bytes, offset, 1 << 20);
      assert.ok(res.ok);
      offset += res.bytes;
    }
    Deno.writeFileSync(newest, bytes.subarray(0, offset));
    const wal = await openWal(dir);
    await wal.append(2, { entries: makeEntries(2, 4, 4, 1) });
    wal.releaseBefore(1, 4);
    wal.releaseBefore(2, 3); // group 2 still needs entry 3: the newest file cannot start a replay
    await wal.settle();
    await wal.close();
    // Group 2 is not in the torn checkpoint; the start must not have moved to that file.
    const again = await openWal(dir);
    try {
      assert.deepEqual(again.hardState(2), { term: 1, vote: "b", commit: 2 });
      assert.equal(again.lastIndex(2), 4);
      assert.deepEqual(again.hardState(1), { term: 1, vote: "a", commit: 3 });
    } finally {
      await again.close();
    }
  });
});
