/** percentDecode's one-pass ASCII path against a byte-wise reference decoder. */
import assert from "node:assert/strict";
import { percentDecode } from "../../src/api/codec.ts";
import { seededRandom } from "../../src/seeded_random.ts";

/** The reference: UTF-8 encode, then decode %XX byte by byte (the general path's rule). */
function reference(text: string, plus: boolean): Uint8Array | undefined {
  const raw = new TextEncoder().encode(text);
  const out: number[] = [];
  const hex = (b: number) => {
    const c = String.fromCharCode(b);
    return /[0-9a-fA-F]/.test(c) ? parseInt(c, 16) : -1;
  };
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25) {
      const hi = i + 2 < raw.length ? hex(raw[i + 1]) : -1;
      const lo = hi >= 0 ? hex(raw[i + 2]) : -1;
      if (lo < 0) return undefined;
      out.push(hi * 16 + lo);
      i += 2;
    } else out.push(plus && raw[i] === 0x2b ? 0x20 : raw[i]);
  }
  return new Uint8Array(out);
}

Deno.test("percentDecode agrees with the byte-wise reference on random texts", () => {
  const seed = Number(Deno.env.get("RINGKV_TEST_SEED") ?? Date.now() % 1_000_000);
  console.log(`seed ${seed} (set RINGKV_TEST_SEED to reproduce)`);
  const random = seededRandom(seed);
  const pieces = [
    "a",
    "Z",
    "0",
    "/",
    "+",
    "%",
    "%2F",
    "%2f",
    "%C3%A9",
    "%G1",
    "%4",
    "é",
    "€",
    "~",
    " ",
  ];
  for (let n = 0; n < 5000; n++) {
    let text = "";
    const length = Math.floor(random() * 12);
    for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)];
    if (random() < 0.05) text = text.repeat(40); // past the one-pass length limit
    for (const plus of [false, true]) {
      assert.deepEqual(
        percentDecode(text, { plusIsSpace: plus }),
        reference(text, plus),
        `${JSON.stringify(text)} plus=${plus}`,
      );
    }
  }
});
