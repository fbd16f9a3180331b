/** Byte helpers for keys and values: text, base64 and the percent-encoding of key paths. */

/** A key or value: bytes, or a string taken as its UTF-8 encoding. */
export type BytesLike = string | Uint8Array;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Returns the bytes of `input` (UTF-8 for strings; the same array for bytes). */
export function toBytes(input: BytesLike): Uint8Array {
  return typeof input === "string" ? encoder.encode(input) : input;
}

/** Decodes UTF-8; returns null when `bytes` is not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Standard base64 (with padding) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunkBytes = 0x8000;
  for (let i = 0; i < bytes.length; i += chunkBytes) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunkBytes));
  }
  return btoa(binary);
}

/** Decodes standard base64; throws a TypeError naming the problem on malformed input. */
export function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError(`not valid base64: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const hex = "0123456789ABCDEF";

function isUnreserved(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || // 0-9
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    byte === 0x2d || byte === 0x2e || byte === 0x5f || byte === 0x7e; // - . _ ~
}

/**
 * Percent-encodes every byte of `key` except RFC 3986 unreserved characters, so any byte
 * string (including `/`, `%` and invalid UTF-8) survives the trip to `/kv/{key}`.
 */
export function encodeKeyPath(key: Uint8Array): string {
  let out = "";
  for (const byte of key) {
    out += isUnreserved(byte) ? String.fromCharCode(byte) : "%" + hex[byte >> 4] + hex[byte & 15];
  }
  return out;
}

/**
 * True when the key cannot travel in a URL path: URL parsers turn the segments `.` and `..`
 * (also when percent-encoded) into path navigation. The client sends such keys another way.
 */
export function isDotSegmentKey(key: Uint8Array): boolean {
  return (key.length === 1 && key[0] === 0x2e) ||
    (key.length === 2 && key[0] === 0x2e && key[1] === 0x2e);
}

/** True when both arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
