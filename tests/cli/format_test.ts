import assert from "node:assert/strict";
import { ConditionFailedError, ConnectionError, HttpError } from "../../src/client/mod.ts";
import { describeError, displayBytes, exitCode, UsageError } from "../../src/cli/format.ts";
import { splitWords } from "../../src/cli/shell.ts";

const problem = (status: number, title: string) => ({
  type: "urn:ringkv:problem:x",
  title,
  status,
  detail: "details here",
});

Deno.test("splitWords honours single quotes, double quotes and backslashes", () => {
  assert.deepEqual(splitWords(`put 'a b' "c \\"d\\"" e\\ f ''`), [
    "put",
    "a b",
    'c "d"',
    "e f",
    "",
  ]);
  assert.deepEqual(splitWords("  get   k  "), ["get", "k"]);
});

Deno.test("splitWords rejects an unterminated quote", () => {
  assert.throws(() => splitWords(`put "a b`), /unterminated/);
});

Deno.test("displayBytes escapes control and non-UTF-8 bytes but keeps text", () => {
  assert.equal(displayBytes(new TextEncoder().encode("ключ/✓")), "ключ/✓");
  assert.equal(displayBytes(new Uint8Array([0x61, 0x0a, 0xff, 0x5c])), "a\\x0a\\xff\\\\");
  assert.equal(displayBytes(new TextEncoder().encode("tab\there\\")), "tab\\x09here\\\\");
});

Deno.test("describeError maps each failure to its exit code", () => {
  const url = "http://127.0.0.1:1";
  const cases: [unknown, number][] = [
    [new UsageError("bad"), exitCode.usage],
    [new ConditionFailedError(problem(412, "Precondition failed"), { url }), exitCode.notFound],
    [new HttpError(problem(404, "Not found"), { url }), exitCode.notFound],
    [new HttpError(problem(414, "Key too long"), { url }), exitCode.usage],
    [new HttpError(problem(401, "Unauthorized"), { url }), exitCode.server],
    [new HttpError(problem(503, "Unavailable"), { url }), exitCode.server],
    [new HttpError(problem(507, "Insufficient storage"), { url }), exitCode.server],
    [new ConnectionError("cannot reach", { url, outcomeUnknown: false }), exitCode.server],
    [new TypeError("a key needs at least one byte"), exitCode.usage],
  ];
  for (const [error, code] of cases) assert.equal(describeError(error).code, code, String(error));
});

Deno.test("an error whose outcome is unknown tells the user to read the key", () => {
  const error = new ConnectionError("cannot reach", {
    url: "http://127.0.0.1:1",
    outcomeUnknown: true,
  });
  assert.match(describeError(error).message, /may or may not have been applied/);
});
