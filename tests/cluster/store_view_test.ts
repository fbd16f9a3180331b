import assert from "node:assert/strict";
import { listStore, storeStatus } from "../../src/cluster/store_view.ts";
import { withStore } from "../storage/helpers.ts";

const t = (s: string) => new TextEncoder().encode(s);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("listStore pages a prefix in order and says when more entries follow", () =>
  withStore({ sync: "none" }, async (store) => {
    for (const k of ["a1", "a2", "a3", "b1"]) await store.put(t(k), t(`v-${k}`));
    const first = await listStore(store, { prefix: t("a"), limit: 2 });
    assert.deepEqual(first.entries.map((e) => text(e.key)), ["a1", "a2"]);
    assert.equal(first.more, true);
    assert.equal(text(first.entries[0].value!), "v-a1");
    const rest = await listStore(store, { prefix: t("a"), limit: 2, after: t("a2") });
    assert.deepEqual(rest.entries.map((e) => text(e.key)), ["a3"]);
    assert.equal(rest.more, false);
  }));

Deno.test("listStore leaves values out with keysOnly and rejects a limit below 1", () =>
  withStore({ sync: "none" }, async (store) => {
    await store.put(t("k"), t("v"));
    const page = await listStore(store, { limit: 10, keysOnly: true });
    assert.equal(page.entries.length, 1);
    assert.equal(page.entries[0].value, undefined);
    await assert.rejects(listStore(store, { limit: 0 }), RangeError);
  }));

Deno.test("storeStatus reports the store's last sequence number and key count", () =>
  withStore({ sync: "none" }, async (store) => {
    await store.put(t("a"), t("1"));
    const put = await store.put(t("b"), t("2"));
    const status = storeStatus(store);
    assert.equal(status.version, put.seq);
    assert.equal(status.keys, 2);
  }));
