/** Bearer-token authentication with a constant-time comparison. */

const encoder = new TextEncoder();

/**
 * Whether two byte strings are equal, in time that depends only on the length of `given`,
 * never on where the first difference is.
 */
export function constantTimeEqual(given: Uint8Array, expected: Uint8Array): boolean {
  let diff = given.byteLength ^ expected.byteLength;
  for (let i = 0; i < given.byteLength; i++) diff |= given[i] ^ (expected[i] ?? 0);
  return diff === 0;
}

/** Decides whether a request carries one of the configured tokens. */
export interface Authenticator {
  /** False when tokens are configured and the request's bearer token is none of them. */
  allows(request: Request): boolean;
  /** Whether any token is configured. */
  readonly enabled: boolean;
}

/**
 * An authenticator for these tokens; with none, every request is allowed. Every configured
 * token is compared (no early exit), so timing does not reveal which one nearly matched.
 */
export function createAuthenticator(tokens: readonly string[]): Authenticator {
  const expected = tokens.map((t) => encoder.encode(t));
  return {
    enabled: expected.length > 0,
    allows(request: Request): boolean {
      if (expected.length === 0) return true;
      const header = request.headers.get("authorization");
      if (header === null || header.length > 1024) return false;
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
      if (match === null) return false;
      const given = encoder.encode(match[1]);
      let ok = false;
      for (const token of expected) ok = constantTimeEqual(given, token) || ok;
      return ok;
    },
  };
}
