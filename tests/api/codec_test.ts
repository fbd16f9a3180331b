import assert from "node:assert/strict";
import {
  fromBase64,
  fromBase64Url,
  percentDecode,
  percentEncode,
  toBase64,
  toBase64Url,
  utf8OrUndefined,
} from "../../src/api/codec.ts";

Deno.test("percentDecode turns %XX into raw bytes, including non-UTF-8", () => {
  assert.deepEqual(percentDecode("a%FFb%2f"), new Uint8Array([0x61, 0xff, 0x62, 0x2f]));
  assert.deepEqual(percentDecode("é"), new TextEncoder().encode("é"));
  assert.deepEqual(percentDecode("a+b"), new TextEncoder().encode("a+b"));
  assert.deepEqual(percentDecode("a+b", { plusIsSpace: true }), new TextEncoder().encode("a b"));
});

Deno.test("percentDecode refuses a truncated or non-hex escape", () => {
  for (const bad of ["%", "%1", "%zz", "a%g1"]) assert.equal(percentDecode(bad), undefined, bad);
});

Deno.test("percentEncode round-trips every byte value and encodes the slash", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const encoded = percentEncode(all);
  assert.ok(!encoded.includes("/"));
  assert.deepEqual(percentDecode(encoded), all);
});

Deno.test("base64 and base64url round-trip and reject garbage", () => {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  assert.deepEqual(fromBase64Url(toBase64Url(bytes)), bytes);
  assert.equal(fromBase64("abc"), undefined);
  assert.equal(fromBase64("ab=c"), undefined);
  assert.equal(fromBase64Url("a+b"), undefined);
  assert.equal(fromBase64Url("a"), undefined);
});

Deno.test("utf8OrUndefined refuses invalid UTF-8", () => {
  assert.equal(utf8OrUndefined(new Uint8Array([0x68, 0x69])), "hi");
  assert.equal(utf8OrUndefined(new Uint8Array([0xc3])), undefined);
  assert.equal(utf8OrUndefined(new Uint8Array([0xed, 0xa0, 0x80])), undefined);
});
