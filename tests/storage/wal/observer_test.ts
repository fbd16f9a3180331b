/** The WAL's metric hooks: one fsync report per flush, one latency report per append. */
import assert from "node:assert/strict";
import type { WalObserver } from "../../../src/storage/wal/mod.ts";
import { makeEntries, withWal } from "./helpers.ts";

interface Reports {
  synced: { seconds: number; entries: number }[];
  appended: { group: number; seconds: number }[];
}

function recordingObserver(): { observer: WalObserver; reports: Reports } {
  const reports: Reports = { synced: [], appended: [] };
  return {
    reports,
    observer: {
      synced: (seconds, entries) => reports.synced.push({ seconds, entries }),
      appended: (group, seconds) => reports.appended.push({ group, seconds }),
    },
  };
}

Deno.test("appends sharing one flush give one fsync report with their entry count", async () => {
  const { observer, reports } = recordingObserver();
  await withWal({ observer }, async (wal) => {
    const before = reports.synced.length; // opening may sync its first file (not reported)
    await Promise.all([
      wal.append(1, { entries: makeEntries(1, 1, 3, 1) }),
      wal.append(2, { entries: makeEntries(2, 1, 2, 1) }),
      wal.append(3, { hardState: { term: 1, vote: null, commit: 0 } }),
    ]);
    const flushes = reports.synced.slice(before);
    assert.equal(flushes.length, 1, "one flush for appends issued in the same tick");
    assert.equal(flushes[0].entries, 5);
    assert.ok(flushes[0].seconds >= 0);
  });
});

Deno.test("every durable append reports its group and its latency", async () => {
  const { observer, reports } = recordingObserver();
  await withWal({ observer }, async (wal) => {
    const t0 = performance.now();
    await wal.append(7, { entries: makeEntries(7, 1, 1, 1) });
    await wal.append(9, { entries: makeEntries(9, 1, 1, 1) });
    const elapsedSeconds = (performance.now() - t0) / 1000;
    assert.deepEqual(reports.appended.map((r) => r.group), [7, 9]);
    for (const r of reports.appended) assert.ok(r.seconds >= 0 && r.seconds <= elapsedSeconds);
    assert.equal(reports.synced.length, 2);
  });
});

Deno.test("a refused append reports nothing", async () => {
  const { observer, reports } = recordingObserver();
  await withWal({ observer, entryBytesMax: 4 }, async (wal) => {
    await assert.rejects(wal.append(1, { entries: makeEntries(1, 1, 1, 1) }), /entryBytesMax/);
    assert.deepEqual(reports, { synced: [], appended: [] });
  });
});
