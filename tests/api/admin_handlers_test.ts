/** /admin/faults: read, replace and clear the fault spec; 404 without the flag; auth. */
import assert from "node:assert/strict";
import { createApiHandler } from "../../src/api/mod.ts";
import { parseConfig } from "../../src/config.ts";
import { FaultInjector } from "../../src/transport/mod.ts";
import { testLimits } from "./helpers.ts";
import { MemoryKvService } from "./memory_service.ts";

function faultApi(options: { faults?: FaultInjector; authTokens?: string[] } = {}) {
  const api = createApiHandler({ service: new MemoryKvService(), limits: testLimits, ...options });
  return (method: string, init: RequestInit = {}) =>
    api.handle(new Request("http://127.0.0.1:7070/admin/faults", { method, ...init }));
}

const emptySpec = { drop: {}, delayMs: {}, cut: [], cutTo: [], cutFrom: [], fsyncDelayMs: 0 };

Deno.test("PUT /admin/faults replaces the spec, GET shows it, DELETE heals", async () => {
  const faults = new FaultInjector({ enabled: true });
  const send = faultApi({ faults });
  assert.deepEqual(await (await send("GET")).json(), emptySpec);
  const spec = { cut: ["n2"], cutTo: ["n3"], fsyncDelayMs: 80 };
  const put = await send("PUT", {
    body: JSON.stringify(spec),
    headers: { "content-type": "application/json" },
  });
  assert.equal(put.status, 200);
  const expected = { ...emptySpec, ...spec };
  assert.deepEqual(await put.json(), expected);
  assert.deepEqual(await (await send("GET")).json(), expected);
  assert.equal(faults.outbound("n2").drop, true, "the injector itself took the spec");
  assert.equal(faults.dropInbound("n3"), false, "cutTo is one way");
  const del = await send("DELETE");
  assert.equal(del.status, 204);
  assert.deepEqual(faults.spec(), emptySpec);
  assert.equal(faults.outbound("n2").drop, false);
});

Deno.test("PUT /admin/faults answers 400 naming the bad field and keeps the old spec", async () => {
  const faults = new FaultInjector({ enabled: true });
  faults.configure({ cut: ["n2"] });
  const send = faultApi({ faults });
  const cases: [string, RegExp][] = [
    ['{"fsyncDelayMs": 20000}', /fsyncDelayMs must be an integer in 0\.\.10000/],
    ['{"drop": {"n2": 2}}', /drop\.n2 is out of range/],
    ['{"partition": ["n2"]}', /unknown fault spec field partition/],
    ["[1, 2]", /fault spec must be an object/],
    ["{not json", /not valid JSON/],
  ];
  for (const [body, detail] of cases) {
    const res = await send("PUT", { body });
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.match(problem.detail, detail, body);
  }
  assert.deepEqual(faults.spec().cut, ["n2"], "a refused spec changes nothing");
  const wrongType = await send("PUT", { body: "{}", headers: { "content-type": "text/csv" } });
  assert.equal(wrongType.status, 415);
  await wrongType.body?.cancel();
});

Deno.test("without fault injection /admin/faults answers 404 saying how to enable it", async () => {
  for (const faults of [undefined, new FaultInjector()]) {
    const send = faultApi({ faults });
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await send(method, method === "PUT" ? { body: "{}" } : {});
      assert.equal(res.status, 404, method);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.match((await res.json()).detail, /--enable-fault-injection/);
    }
  }
});

Deno.test("/admin/faults needs the bearer token when auth is on", async () => {
  const faults = new FaultInjector({ enabled: true });
  const send = faultApi({ faults, authTokens: ["s3cret"] });
  const refused = await send("PUT", { body: '{"cut": ["n2"]}' });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  assert.equal(faults.active, false, "an unauthenticated PUT changes nothing");
  const allowed = await send("PUT", {
    body: '{"cut": ["n2"]}',
    headers: { authorization: "Bearer s3cret" },
  });
  assert.equal(allowed.status, 200);
  await allowed.body?.cancel();
  assert.equal(faults.active, true);
});

Deno.test("--enable-fault-injection and RINGKV_ENABLE_FAULT_INJECTION turn it on; off by default", () => {
  const parse = (args: string[], env: Record<string, string> = {}) => {
    const parsed = parseConfig(args, { env });
    if (parsed.help) throw new Error("unexpected --help");
    return parsed.config.faultInjection;
  };
  assert.equal(parse([]), false);
  assert.equal(parse(["--enable-fault-injection"]), true);
  assert.equal(parse([], { RINGKV_ENABLE_FAULT_INJECTION: "true" }), true);
  assert.equal(parse([], { RINGKV_ENABLE_FAULT_INJECTION: "false" }), false);
  assert.throws(
    () => parse([], { RINGKV_ENABLE_FAULT_INJECTION: "maybe" }),
    /RINGKV_ENABLE_FAULT_INJECTION: expected true or false/,
  );
});
