/** The WAL's sync modes: "always" syncs each flush, "interval" in the background, "none" at close. */
import assert from "node:assert/strict";
import { openWal } from "../../../src/storage/wal/mod.ts";
import { datas, makeEntries, waitFor, withTempDir, withWal } from "./helpers.ts";

Deno.test("sync always: every flush is synced before its appends resolve", async () => {
  await withWal({ sync: "always" }, async (wal) => {
    for (let i = 1; i <= 5; i++) await wal.append(1, { entries: makeEntries(1, i, i, 1) });
    assert.equal(wal.stats().syncs, wal.stats().flushes);
    assert.equal(wal.stats().syncs, 5);
  });
});

Deno.test("sync none: appends resolve once written; the file is synced when the WAL closes", async () => {
  await withTempDir(async (dir) => {
    let syncs = 0;
    const wal = await openWal(dir, { sync: "none", beforeSync: () => void syncs++ });
    const atOpen = syncs;
    for (let i = 1; i <= 5; i++) await wal.append(1, { entries: makeEntries(1, i, i, 1) });
    assert.equal(wal.stats().syncs, 0);
    assert.equal(syncs, atOpen, "no fsync for appends");
    assert.equal(wal.lastIndex(1), 5, "written appends are readable");
    await wal.close();
    assert.equal(syncs, atOpen + 1, "closing syncs what was written");
    const again = await openWal(dir, { sync: "none" });
    try {
      assert.deepEqual(datas(again.entries(1, 1, 6)), datas(makeEntries(1, 1, 5, 1)));
    } finally {
      await again.close();
    }
  });
});

Deno.test("sync interval: writes are synced in the background, and only when there are some", async () => {
  await withWal({ sync: "interval", syncIntervalMs: 20 }, async (wal) => {
    await wal.append(1, { entries: makeEntries(1, 1, 3, 1) });
    assert.equal(wal.stats().syncs, 0, "the append did not wait for a sync");
    await waitFor(() => wal.stats().syncs === 1, { what: "the background sync" });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(wal.stats().syncs, 1, "nothing new written: no further sync");
    await wal.append(1, { entries: makeEntries(1, 4, 4, 1) });
    await waitFor(() => wal.stats().syncs === 2, { what: "the second background sync" });
  });
});

Deno.test("a file rolled over in sync none is synced before the next one starts", async () => {
  await withTempDir(async (dir) => {
    const wal = await openWal(dir, { sync: "none", segmentBytesMax: 4096 });
    try {
      const data = new Uint8Array(1000);
      for (let i = 1; i <= 40; i++) {
        await wal.append(1, { entries: [{ index: i, term: 1, type: 0, data }] });
      }
      assert.ok(wal.stats().files > 1, "the appends rolled over into new files");
      assert.ok(wal.stats().syncs >= 1, "a rolled-over file was synced");
    } finally {
      await wal.close();
    }
  });
});

Deno.test("an unknown sync mode is refused", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      openWal(dir, { sync: "sometimes" as "none" }),
      /sync must be one of always, interval, none/,
    );
  });
});
