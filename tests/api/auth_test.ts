import assert from "node:assert/strict";
import { constantTimeEqual } from "../../src/api/auth.ts";
import { json, testApi } from "./helpers.ts";

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

Deno.test("without tokens every route is open", async () => {
  const t = testApi();
  assert.equal((await t.send("GET", "/status")).status, 200);
});

Deno.test("with tokens a request without Authorization gets 401 and WWW-Authenticate", async () => {
  const t = testApi({ authTokens: ["s3cret"] });
  for (const path of ["/kv/a", "/kv", "/status", "/ready", "/metrics", "/nope"]) {
    const res = await t.send("GET", path);
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get("www-authenticate")!, /^Bearer/);
    assert.equal((await json(res)).type, "urn:ringkv:problem:unauthorized");
  }
  assert.equal((await t.send("POST", "/batch", { body: "{}" })).status, 401);
});

Deno.test("with tokens /health needs none", async () => {
  const t = testApi({ authTokens: ["s3cret"] });
  assert.equal((await t.send("GET", "/health")).status, 200);
});

Deno.test("any configured token is accepted; a wrong one is not", async () => {
  const t = testApi({ authTokens: ["one", "two"] });
  assert.equal((await t.send("GET", "/status", bearer("one"))).status, 200);
  assert.equal((await t.send("GET", "/status", bearer("two"))).status, 200);
  assert.equal((await t.send("GET", "/status", bearer("three"))).status, 401);
  assert.equal((await t.send("GET", "/status", bearer("on"))).status, 401);
  assert.equal((await t.send("GET", "/status", bearer("onee"))).status, 401);
  const basic = { headers: { authorization: "Basic b25lOg==" } };
  assert.equal((await t.send("GET", "/status", basic)).status, 401);
});

Deno.test("constantTimeEqual compares content and length", () => {
  const e = new TextEncoder();
  assert.equal(constantTimeEqual(e.encode("abc"), e.encode("abc")), true);
  assert.equal(constantTimeEqual(e.encode("abc"), e.encode("abd")), false);
  assert.equal(constantTimeEqual(e.encode("ab"), e.encode("abc")), false);
  assert.equal(constantTimeEqual(e.encode("abc\0"), e.encode("abc")), false);
  assert.equal(constantTimeEqual(e.encode(""), e.encode("")), true);
});
