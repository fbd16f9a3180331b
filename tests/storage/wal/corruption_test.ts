/** Torn tails of the newest file are cut off; damage in an older file fails the open. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createLogger } from "../../../src/log.ts";
import { CorruptionError, openWal } from "../../../src/storage/wal/mod.ts";
import { datas, makeEntries, walFiles, withTempDir } from "./helpers.ts";

/** Writes groups 1 and 2 entries 1..5, then a last append of group 1 entry 6; returns where it starts and ends. */
async function writeWithLastRecord(
  dir: string,
): Promise<{ file: string; start: number; end: number }> {
  const wal = await openWal(dir);
  await wal.append(1, {
    entries: makeEntries(1, 1, 5, 1),
    hardState: { term: 1, vote: "n1", commit: 2 },
  });
  await wal.append(2, { entries: makeEntries(2, 1, 5, 1) });
  const file = join(dir, walFiles(dir).at(-1)!);
  const start = Deno.statSync(file).size;
  await wal.append(1, {
    entries: [{ index: 6, term: 1, type: 0, data: new Uint8Array(40).fill(6) }],
  });
  await wal.close();
  return { file, start, end: Deno.statSync(file).size };
}

Deno.test("cuts a torn last record at every offset and keeps everything before it", async () => {
  await withTempDir(async (dir) => {
    const src = join(dir, "src");
    const { file, start, end } = await writeWithLastRecord(src);
    const original = Deno.readFileSync(file);
    assert.ok(end - start > 40);
    for (let cut = start; cut < end; cut++) {
      const copy = join(dir, `cut-${cut}`);
      Deno.mkdirSync(copy);
      Deno.writeFileSync(join(copy, walFiles(src)[0]), original.subarray(0, cut));
      const lines: string[] = [];
      const logger = createLogger({ sink: (l) => lines.push(l) });
      const wal = await openWal(copy, { logger });
      try {
        assert.equal(wal.lastIndex(1), 5, `cut at ${cut}`);
        assert.deepEqual(datas(wal.entries(1, 1, 6)), datas(makeEntries(1, 1, 5, 1)));
        assert.deepEqual(wal.hardState(1), { term: 1, vote: "n1", commit: 2 });
        assert.equal(wal.lastIndex(2), 5);
        if (cut > start) {
          const warn = lines.map((l) => JSON.parse(l)).find((l) =>
            l.msg === "truncating a torn WAL tail"
          );
          assert.ok(warn, `no warning for cut ${cut}`);
          assert.equal(warn.offset, start);
          assert.equal(warn.file, join(copy, walFiles(src)[0]));
        }
        await wal.append(1, { entries: makeEntries(1, 6, 6, 2) });
      } finally {
        await wal.close();
      }
      const again = await openWal(copy);
      try {
        assert.deepEqual(datas(again.entries(1, 6, 7)), datas(makeEntries(1, 6, 6, 2)));
      } finally {
        await again.close();
      }
      Deno.removeSync(copy, { recursive: true });
    }
  });
});

Deno.test("a flipped bit in the newest file's last record cuts that record only", async () => {
  await withTempDir(async (dir) => {
    const { file, start, end } = await writeWithLastRecord(dir);
    const bytes = Deno.readFileSync(file);
    bytes[end - 3] ^= 0x10;
    Deno.writeFileSync(file, bytes);
    const wal = await openWal(dir);
    try {
      assert.equal(wal.lastIndex(1), 5);
      assert.equal(Deno.statSync(file).size, start);
    } finally {
      await wal.close();
    }
  });
});

Deno.test("a flipped bit in a closed file fails the open with CorruptionError naming file and offset", async () => {
  await withTempDir(async (dir) => {
    const { file, start } = await writeWithLastRecord(dir);
    // Reopen and append so the damaged file is no longer the newest.
    const wal = await openWal(dir);
    await wal.append(3, { entries: makeEntries(3, 1, 1, 1) });
    await wal.close();
    assert.ok(walFiles(dir).length >= 2);
    const bytes = Deno.readFileSync(file);
    bytes[start + 20] ^= 0x01;
    Deno.writeFileSync(file, bytes);
    const err = await openWal(dir).then(
      () => assert.fail("open should fail"),
      (e) => e,
    );
    assert.ok(err instanceof CorruptionError, String(err));
    assert.equal(err.file, file);
    assert.equal(err.offset, start);
    assert.match(err.message, /corrupt at offset \d+ \(checksum mismatch\)/);
  });
});

Deno.test("a closed file without the WAL header fails the open", async () => {
  await withTempDir(async (dir) => {
    const { file } = await writeWithLastRecord(dir);
    const wal = await openWal(dir);
    await wal.close();
    const bytes = Deno.readFileSync(file);
    bytes[0] = 0;
    Deno.writeFileSync(file, bytes);
    await assert.rejects(openWal(dir), CorruptionError);
  });
});

Deno.test("a newest file torn inside its header is removed and the rest recovered", async () => {
  await withTempDir(async (dir) => {
    await writeWithLastRecord(dir);
    Deno.writeFileSync(join(dir, "0000000000000009.wal"), new Uint8Array([0x52, 0x4b]));
    const wal = await openWal(dir);
    try {
      assert.equal(wal.lastIndex(1), 6);
      assert.ok(!walFiles(dir).includes("0000000000000009.wal"));
    } finally {
      await wal.close();
    }
  });
});
