import assert from "node:assert/strict";
import { lockDirectory } from "../../src/storage/dir_lock.ts";
import { DirectoryLockedError } from "../../src/storage/errors.ts";
import { withTempDir } from "./common_helpers.ts";

Deno.test("a second lock of one directory in this process names the holder", () =>
  withTempDir(async (dir) => {
    const lock = lockDirectory(dir);
    try {
      assert.throws(
        () => lockDirectory(dir),
        (err: unknown) =>
          err instanceof DirectoryLockedError &&
          /^data directory .* is already open in this process \(pid=\d+ host=/.test(err.message),
      );
    } finally {
      lock.release();
    }
    lockDirectory(dir).release();
    assert.match(await Deno.readTextFile(`${dir}/LOCK`), /^pid=\d+ host=/);
  }));

Deno.test("locks with different lock file names in one directory do not conflict", () =>
  withTempDir(async (dir) => {
    const store = lockDirectory(dir);
    const wal = lockDirectory(dir, { lockName: "WAL.LOCK", label: "WAL directory" });
    try {
      assert.match(await Deno.readTextFile(`${dir}/WAL.LOCK`), /^pid=\d+ host=/);
    } finally {
      wal.release();
      store.release();
    }
  }));

Deno.test("a named lock's error uses its label and advice", () =>
  withTempDir((dir) => {
    const options = { lockName: "WAL.LOCK", label: "WAL directory", alreadyOpenAdvice: "; go" };
    const lock = lockDirectory(dir, options);
    try {
      assert.throws(
        () => lockDirectory(dir, options),
        (err: unknown) =>
          err instanceof DirectoryLockedError &&
          /^WAL directory .* is already open in this process \(.*\); go$/.test(err.message),
      );
    } finally {
      lock.release();
    }
    return Promise.resolve();
  }));

Deno.test("rejects a lock file name with a slash", () =>
  withTempDir((dir) => {
    assert.throws(() => lockDirectory(dir, { lockName: "a/LOCK" }), /bad lock file name/);
    return Promise.resolve();
  }));
