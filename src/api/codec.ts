/**
 * Bytes at the HTTP edge: percent-decoding of paths and query parameters to raw bytes (not
 * decodeURIComponent, which fails on non-UTF-8), strict UTF-8, base64 and base64url.
 */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Up to this length a JS loop beats TextEncoder's call into the runtime for ASCII text. */
const asciiLoopLengthMax = 256;

/**
 * Percent-decodes `text` to raw bytes: `%FF` is the byte 0xFF; other characters are taken as
 * UTF-8. With `plusIsSpace` (query strings) `+` is a space. Returns undefined for a `%` not
 * followed by two hex digits.
 */
export function percentDecode(
  text: string,
  options: { plusIsSpace?: boolean } = {},
): Uint8Array | undefined {
  const plus = options.plusIsSpace === true;
  if (text.length <= asciiLoopLengthMax) {
    // The common case, every key of every request: short ASCII text decoded in one pass
    // over its characters, without TextEncoder's call into the runtime and a second buffer.
    const decoded = decodeAscii(text, plus);
    if (decoded !== null) return decoded;
  }
  if (text.indexOf("%") < 0 && (!plus || text.indexOf("+") < 0)) return encoder.encode(text);
  const raw = encoder.encode(text);
  const out = new Uint8Array(raw.byteLength);
  let n = 0;
  for (let i = 0; i < raw.byteLength; i++) {
    const byte = raw[i];
    if (byte === 0x25) {
      const hi = i + 2 < raw.byteLength ? hexValue(raw[i + 1]) : -1;
      const lo = hi >= 0 ? hexValue(raw[i + 2]) : -1;
      if (lo < 0) return undefined;
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = plus && byte === 0x2b ? 0x20 : byte;
    }
  }
  return out.subarray(0, n);
}

/**
 * {@link percentDecode} of all-ASCII text; null when `text` has a non-ASCII character (the
 * caller then decodes it as UTF-8), undefined for a malformed `%`.
 */
function decodeAscii(text: string, plus: boolean): Uint8Array | undefined | null {
  const length = text.length;
  const out = new Uint8Array(length);
  let n = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return null;
    if (code === 0x25) {
      const hi = i + 2 < length ? hexValue(text.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(text.charCodeAt(i + 2)) : -1;
      if (lo < 0) {
        // A non-ASCII character after the '%' is not a hex digit either: malformed anyway.
        return undefined;
      }
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = plus && code === 0x2b ? 0x20 : code;
    }
  }
  return n === length ? out : out.subarray(0, n);
}

/** Whether a byte is left as-is by {@link percentEncode}: A-Z a-z 0-9 - . _ ~ */
function unreserved(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x2e || byte === 0x5f ||
    byte === 0x7e;
}

/** Percent-encodes raw bytes for a path or query, every byte but unreserved ones (so `/` too). */
export function percentEncode(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    out += unreserved(byte)
      ? String.fromCharCode(byte)
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** The text of UTF-8 bytes, or undefined when they are not valid UTF-8. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Standard base64 (with padding) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.byteLength; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes of standard base64 text (padding required), or undefined when it is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!base64Pattern.test(text)) return undefined;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Unpadded base64url of bytes (used for opaque cursors). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Bytes of unpadded base64url text, or undefined when it is not base64url. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") +
    "=".repeat((4 - (text.length % 4)) % 4);
  return fromBase64(padded);
}
