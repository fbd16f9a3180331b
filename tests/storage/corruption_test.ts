import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { CorruptionError, open } from "../../src/storage/mod.ts";
import { readHeader } from "../../src/storage/record.ts";
import { b, filesEnding, s, withTempDir } from "./helpers.ts";

/** Offsets of every record in a segment file. */
function recordOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let p = 0;
  while (p < bytes.byteLength) {
    const h = readHeader(bytes, p);
    if (h === undefined) break;
    out.push(p);
    p += h.length;
  }
  return out;
}

function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    logger: createLogger({ level: "debug", sink: (l) => lines.push(JSON.parse(l)) }),
  };
}

/** Writes k0..k{n-1} (values "v<i>") and closes; returns the only segment's path. */
async function writeOneSegment(dir: string, n: number): Promise<string> {
  const store = await open(dir);
  for (let i = 0; i < n; i++) await store.put(b(`k${i}`), b(`v${i}`));
  await store.close();
  const segs = filesEnding(dir, ".seg");
  assert.equal(segs.length, 1);
  return `${dir}/${segs[0]}`;
}

Deno.test("truncation at every offset of the last record drops only that record", async () => {
  await withTempDir(async (dir) => {
    const path = await writeOneSegment(dir, 3);
    const original = Deno.readFileSync(path);
    const offsets = recordOffsets(original);
    const last = offsets[offsets.length - 1];
    for (let cut = last; cut < original.byteLength; cut++) {
      Deno.writeFileSync(path, original.subarray(0, cut));
      const { lines, logger } = capture();
      const store = await open(dir, { logger });
      try {
        assert.equal(s(await store.get(b("k0"))), "v0");
        assert.equal(s(await store.get(b("k1"))), "v1");
        assert.equal(await store.get(b("k2")), undefined, `cut at ${cut}`);
        assert.equal(Deno.statSync(path).size, last);
        if (cut > last) {
          const warn = lines.find((l) => l.level === "warn" && l.offset === last);
          assert.ok(warn, `no warning naming offset ${last} for cut ${cut}`);
          assert.equal(warn.file, path);
        }
      } finally {
        await store.close();
      }
    }
  });
});

Deno.test("a flipped bit anywhere in the last record drops that record", async () => {
  await withTempDir(async (dir) => {
    const path = await writeOneSegment(dir, 3);
    const original = Deno.readFileSync(path);
    const offsets = recordOffsets(original);
    const last = offsets[offsets.length - 1];
    for (let at = last; at < original.byteLength; at++) {
      const damaged = original.slice();
      damaged[at] ^= 1 << (at % 8);
      Deno.writeFileSync(path, damaged);
      const store = await open(dir);
      try {
        assert.equal(await store.get(b("k2")), undefined, `flip at ${at}`);
        assert.equal(s(await store.get(b("k1"))), "v1");
        assert.equal(Deno.statSync(path).size, last);
      } finally {
        await store.close();
      }
    }
  });
});

Deno.test("the store keeps writing after truncating a torn tail", async () => {
  await withTempDir(async (dir) => {
    const path = await writeOneSegment(dir, 3);
    const bytes = Deno.readFileSync(path);
    Deno.writeFileSync(path, bytes.subarray(0, bytes.byteLength - 2));
    let store = await open(dir);
    await store.put(b("after"), b("x"));
    await store.close();
    store = await open(dir);
    try {
      assert.equal(s(await store.get(b("after"))), "x");
      assert.equal(await store.get(b("k2")), undefined);
      assert.equal(store.stats().keys, 3);
    } finally {
      await store.close();
    }
  });
});

Deno.test("a batch without its commit record is discarded entirely on reopen", async () => {
  await withTempDir(async (dir) => {
    let store = await open(dir);
    await store.put(b("before"), b("1"));
    await store.batch([
      { type: "put", key: b("x"), value: b("1") },
      { type: "put", key: b("y"), value: b("2") },
    ]);
    await store.close();
    const path = `${dir}/${filesEnding(dir, ".seg")[0]}`;
    const bytes = Deno.readFileSync(path);
    const offsets = recordOffsets(bytes);
    const commitAt = offsets[offsets.length - 1];
    Deno.writeFileSync(path, bytes.subarray(0, commitAt)); // every batch record, no commit
    store = await open(dir);
    try {
      assert.equal(store.has(b("x")), false);
      assert.equal(store.has(b("y")), false);
      assert.equal(s(await store.get(b("before"))), "1");
      assert.equal(Deno.statSync(path).size, offsets[offsets.length - 3]);
    } finally {
      await store.close();
    }
  });
});

/** Fills several small segments; returns the path of the first (closed) one. */
async function writeClosedSegments(dir: string, keepHints: boolean): Promise<string> {
  const store = await open(dir, { segmentBytesMax: 512, mergeAuto: false });
  for (let i = 0; i < 40; i++) await store.put(b(`key${i}`), b(`value-${i}`));
  await store.close();
  if (!keepHints) { for (const h of filesEnding(dir, ".hint")) Deno.removeSync(`${dir}/${h}`); }
  return `${dir}/${filesEnding(dir, ".seg")[0]}`;
}

Deno.test("a flipped bit in a closed segment's value is reported and never served", async () => {
  for (const keepHints of [false, true]) {
    await withTempDir(async (dir) => {
      const path = await writeClosedSegments(dir, keepHints);
      const bytes = Deno.readFileSync(path);
      const offsets = recordOffsets(bytes);
      const target = offsets[2]; // offsets[0] is the segment's seq marker
      const h = readHeader(bytes, target)!;
      const key = new TextDecoder().decode(bytes.subarray(target + 19, target + 19 + h.keyBytes));
      bytes[target + h.length - 1] ^= 0x04; // last byte of the value
      Deno.writeFileSync(path, bytes);
      const { lines, logger } = capture();
      const store = await open(dir, { logger });
      try {
        const err = await store.get(b(key)).catch((e) => e);
        assert.ok(err instanceof CorruptionError, `hints=${keepHints}: got ${err}`);
        assert.equal(err.file, path);
        assert.equal(err.offset, target);
        assert.ok(lines.some((l) => l.level === "error" && l.file === path && l.offset === target));
        const scanErr = await store.scan().catch((e) => e);
        assert.ok(scanErr instanceof CorruptionError);
        const other = readHeader(bytes, offsets[1])!;
        const otherKey = new TextDecoder().decode(
          bytes.subarray(offsets[1] + 19, offsets[1] + 19 + other.keyBytes),
        );
        assert.ok((await store.get(b(otherKey))) !== undefined);
      } finally {
        await store.close();
      }
    });
  }
});

Deno.test("an unreadable closed segment fails open with CorruptionError naming it", async () => {
  await withTempDir(async (dir) => {
    const path = await writeClosedSegments(dir, false);
    const bytes = Deno.readFileSync(path);
    const offsets = recordOffsets(bytes);
    bytes[offsets[1] + 15] ^= 0x40; // the value length: framing is lost
    Deno.writeFileSync(path, bytes);
    const err = await open(dir).catch((e) => e);
    assert.ok(err instanceof CorruptionError, `got ${err}`);
    assert.equal(err.file, path);
    assert.equal(err.offset, offsets[1]);
  });
});

Deno.test("a damaged hint file falls back to scanning its segment", async () => {
  await withTempDir(async (dir) => {
    await writeClosedSegments(dir, true);
    const hints = filesEnding(dir, ".hint");
    assert.ok(hints.length > 0, "closed segments should have hint files");
    for (const h of hints) {
      const bytes = Deno.readFileSync(`${dir}/${h}`);
      bytes[bytes.byteLength >> 1] ^= 0xff;
      Deno.writeFileSync(`${dir}/${h}`, bytes);
    }
    const store = await open(dir);
    try {
      assert.equal(store.stats().keys, 40);
      for (let i = 0; i < 40; i++) assert.equal(s(await store.get(b(`key${i}`))), `value-${i}`);
    } finally {
      await store.close();
    }
  });
});
