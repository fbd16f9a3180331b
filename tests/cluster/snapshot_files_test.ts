import assert from "node:assert/strict";
import { join } from "node:path";
import {
  GroupDirs,
  listSnapshots,
  pruneSnapshots,
  recoverGroupDirs,
  type SnapshotMeta,
  swapInReceived,
  writeSnapshotMeta,
} from "../../src/cluster/snapshot_files.ts";

async function withDirs(fn: (dirs: GroupDirs) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_snapfiles_" });
  try {
    const dirs = new GroupDirs(dataDir, 1);
    await Deno.mkdir(dirs.root, { recursive: true });
    await fn(dirs);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

function meta(index: number): SnapshotMeta {
  return {
    index,
    term: 2,
    conf: { voters: ["n1", "n2", "n3"], learners: [] },
    storeSeq: index,
    files: [{ name: "000001.seg", bytes: 3 }],
  };
}

async function makeImage(dirs: GroupDirs, index: number, complete = true): Promise<void> {
  await Deno.mkdir(dirs.image(index), { recursive: true });
  await Deno.writeFile(join(dirs.image(index), "000001.seg"), new Uint8Array([1, 2, 3]));
  if (complete) await writeSnapshotMeta(dirs.image(index), meta(index));
}

Deno.test("only images with their metadata are listed, oldest first", async () => {
  await withDirs(async (dirs) => {
    await makeImage(dirs, 80);
    await makeImage(dirs, 40);
    await makeImage(dirs, 120, false);
    assert.deepEqual(listSnapshots(dirs).map((m) => m.index), [40, 80]);
    assert.deepEqual(listSnapshots(dirs)[0].conf.voters, ["n1", "n2", "n3"]);
  });
});

Deno.test("pruning keeps the listed images and never touches a newer one being written", async () => {
  await withDirs(async (dirs) => {
    for (const i of [10, 20, 30, 40]) await makeImage(dirs, i);
    await makeImage(dirs, 50, false);
    await pruneSnapshots(dirs, new Set([20, 40]));
    const left = [...Deno.readDirSync(dirs.snapshots)].map((e) => Number(e.name)).sort((a, b) =>
      a - b
    );
    assert.deepEqual(left, [20, 40, 50]);
  });
});

Deno.test("a crash after the old store moved aside is finished from the received image", async () => {
  await withDirs(async (dirs) => {
    await Deno.mkdir(dirs.replaced);
    await Deno.writeTextFile(join(dirs.replaced, "old"), "old");
    await Deno.mkdir(dirs.received(90));
    await Deno.writeTextFile(join(dirs.received(90), "new"), "new");
    const done = await recoverGroupDirs(dirs);
    assert.equal(done.length, 2);
    assert.equal(await Deno.readTextFile(join(dirs.store, "new")), "new");
    await assert.rejects(Deno.stat(dirs.replaced), Deno.errors.NotFound);
  });
});

Deno.test("an unfinished reception is dropped and the store left as it was", async () => {
  await withDirs(async (dirs) => {
    await Deno.mkdir(dirs.store);
    await Deno.writeTextFile(join(dirs.store, "mine"), "mine");
    await Deno.mkdir(dirs.incoming(70));
    await Deno.mkdir(dirs.received(60));
    await recoverGroupDirs(dirs);
    assert.deepEqual([...Deno.readDirSync(dirs.root)].map((e) => e.name), ["1"]);
    assert.equal(await Deno.readTextFile(join(dirs.store, "mine")), "mine");
  });
});

Deno.test("swapping in a received image replaces the store directory", async () => {
  await withDirs(async (dirs) => {
    await Deno.mkdir(dirs.store);
    await Deno.writeTextFile(join(dirs.store, "old"), "old");
    await Deno.mkdir(dirs.received(5));
    await Deno.writeTextFile(join(dirs.received(5), "new"), "new");
    await swapInReceived(dirs, 5);
    assert.deepEqual([...Deno.readDirSync(dirs.store)].map((e) => e.name), ["new"]);
    assert.deepEqual([...Deno.readDirSync(dirs.root)].map((e) => e.name), ["1"]);
  });
});
