/**
 * Disk full for real: a 2 MiB tmpfs mounted on a temp dir (needs root; skipped otherwise).
 */
import assert from "node:assert/strict";
import { DiskFullError, openWal } from "../../../src/storage/wal/mod.ts";
import { withTmpfs } from "../common_helpers.ts";

function entry(index: number): { index: number; term: number; type: number; data: Uint8Array } {
  return { index, term: 1, type: 0, data: new Uint8Array(50_000).fill(index % 256) };
}

for (const segmentBytesMax of [8 * 1024 * 1024, 64 * 1024]) {
  Deno.test(`a full disk fails that flush's appends with DiskFullError and the WAL stays usable (files of ${segmentBytesMax} bytes)`, async (t) => {
    await withTmpfs(t, "WAL disk-full test", (mnt) => diskFull(mnt, segmentBytesMax));
  });
}

async function diskFull(mnt: string, segmentBytesMax: number): Promise<void> {
  const dir = `${mnt}/wal`;
  const filler = `${mnt}/filler`;
  Deno.writeFileSync(filler, new Uint8Array(1024 * 1024));
  const wal = await openWal(dir, { segmentBytesMax });
  let acked = 0;
  let failure: unknown;
  for (let i = 1; i <= 100 && failure === undefined; i++) {
    // Two groups per flush: both appends share the failing write.
    const results = await Promise.allSettled([
      wal.append(1, { entries: [entry(i)] }),
      wal.append(2, { entries: [entry(i)], hardState: { term: 1, vote: null, commit: i } }),
    ]);
    if (results.every((r) => r.status === "fulfilled")) {
      acked = i;
      continue;
    }
    assert.ok(results.every((r) => r.status === "rejected"), "one flush fails as a whole");
    failure = (results[0] as PromiseRejectedResult).reason;
  }
  assert.ok(failure instanceof DiskFullError, `expected DiskFullError, got ${failure}`);
  assert.equal(failure.code, "disk_full");
  assert.ok(acked > 0);
  assert.equal(wal.lastIndex(1), acked);
  assert.equal(wal.hardState(2).commit, acked);
  assert.equal(wal.stats().failedAppends, 2);
  for (let i = 1; i <= acked; i++) assert.equal(wal.entries(1, i, i + 1)[0].data[49_999], i % 256);
  // Space returns: the same appends are accepted now.
  Deno.removeSync(filler);
  await wal.append(1, { entries: [entry(acked + 1)] });
  await wal.append(2, {
    entries: [entry(acked + 1)],
    hardState: { term: 1, vote: null, commit: acked + 1 },
  });
  await wal.close();
  const again = await openWal(dir, { segmentBytesMax });
  try {
    assert.equal(again.lastIndex(1), acked + 1);
    assert.equal(again.lastIndex(2), acked + 1);
    assert.equal(again.hardState(2).commit, acked + 1);
    for (let i = 1; i <= acked + 1; i++) {
      assert.equal(again.entries(2, i, i + 1)[0].data[0], i % 256);
    }
  } finally {
    await again.close();
  }
}
