import assert from "node:assert/strict";
import {
  decodeUtf8,
  encodeKeyPath,
  fromBase64,
  isDotSegmentKey,
  toBase64,
} from "../../src/client/bytes.ts";

Deno.test("encodeKeyPath keeps unreserved characters and percent-encodes every other byte", () => {
  const key = new TextEncoder().encode("Az09-._~/%?# é");
  assert.equal(encodeKeyPath(key), "Az09-._~%2F%25%3F%23%20%C3%A9");
  assert.equal(encodeKeyPath(new Uint8Array([0, 0xff])), "%00%FF");
});

Deno.test("an encoded key survives URL parsing unchanged", () => {
  const key = new Uint8Array([0x2e, 0x2e, 0x2f, 0x61, 0x2f, 0x2e]); // "../a/."
  const url = new URL("http://h/kv/" + encodeKeyPath(key));
  assert.equal(url.pathname, "/kv/..%2Fa%2F.");
});

Deno.test('only the keys "." and ".." are dot segments', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(isDotSegmentKey(enc(".")), true);
  assert.equal(isDotSegmentKey(enc("..")), true);
  assert.equal(isDotSegmentKey(enc("...")), false);
  assert.equal(isDotSegmentKey(enc("./")), false);
});

Deno.test("base64 round-trips every byte value and rejects malformed input", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  assert.throws(() => fromBase64("not base64!"), TypeError);
});

Deno.test("decodeUtf8 returns null for invalid UTF-8", () => {
  assert.equal(decodeUtf8(new Uint8Array([0xc3, 0xa9])), "é");
  assert.equal(decodeUtf8(new Uint8Array([0xff])), null);
});
