/** Bearer-token auth and TLS against a real server process. */
import assert from "node:assert/strict";
import { startServer } from "./server_process.ts";

Deno.test("with --auth-token every route but /health needs the bearer token", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ringkv_auth_" });
  const server = await startServer(dataDir, {
    args: ["--auth-token", "alpha"],
    env: { RINGKV_AUTH_TOKEN: "ignored-by-flag" },
  });
  try {
    const { url } = server;
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    for (
      const [method, path] of [
        ["GET", "/kv/a"],
        ["PUT", "/kv/a"],
        ["GET", "/kv"],
        ["POST", "/batch"],
        ["GET", "/status"],
        ["GET", "/ready"],
        ["GET", "/metrics"],
      ]
    ) {
      const res = await fetch(`${url}${path}`, {
        method,
        body: method === "GET" ? undefined : "x",
      });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.match(res.headers.get("www-authenticate")!, /^Bearer/);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      await res.body?.cancel();
    }
    const wrong = await fetch(`${url}/kv/a`, {
      headers: { authorization: "Bearer ignored-by-flag" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const auth = { authorization: "Bearer alpha" };
    const put = await fetch(`${url}/kv/a`, { method: "PUT", body: "v", headers: auth });
    assert.equal(put.status, 201);
    await put.body?.cancel();
    assert.equal(await (await fetch(`${url}/kv/a`, { headers: auth })).text(), "v");
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(dataDir, { recursive: true });
  }
});

async function hasOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function run(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  assert.ok(out.success, `openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A test CA and a server certificate for 127.0.0.1 signed by it (all files in dir). */
async function makeCertificate(dir: string, files: { cert: string; key: string; ca: string }) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    files.ca,
    "-days",
    "1",
    "-subj",
    "/CN=ringkv test CA",
  ]);
  await run([
    "req",
    ...ec,
    "-keyout",
    files.key,
    "-out",
    `${dir}/server.csr`,
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await run([
    "x509",
    "-req",
    "-in",
    `${dir}/server.csr`,
    "-CA",
    files.ca,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    files.cert,
    "-days",
    "1",
    "-extfile",
    `${dir}/ext.cnf`,
  ]);
}

const openssl = await hasOpenssl();
if (!openssl) console.warn("SKIP tls test: the openssl command is not installed");

Deno.test({
  name: "with --tls-cert and --tls-key the node serves HTTPS with that certificate",
  ignore: !openssl,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ringkv_tls_" });
    const cert = `${dir}/cert.pem`;
    const key = `${dir}/key.pem`;
    await makeCertificate(dir, { cert, key, ca: `${dir}/ca.pem` });
    const server = await startServer(`${dir}/data`, {
      args: ["--tls-cert", cert, "--tls-key", key],
    });
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/ca.pem`)] });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const put = await fetch(`${server.url}/kv/secure`, { method: "PUT", body: "yes", client });
      assert.equal(put.status, 201);
      await put.body?.cancel();
      assert.equal(await (await fetch(`${server.url}/kv/secure`, { client })).text(), "yes");
      await assert.rejects(
        fetch(`${server.url}/health`),
        "a client that does not trust the certificate must fail",
      );
      await assert.rejects(fetch(server.url.replace("https:", "http:") + "/health", { client }));
    } finally {
      client.close();
      assert.equal((await server.stop()).code, 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
