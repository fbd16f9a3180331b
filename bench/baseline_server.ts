/**
 * The HTTP baseline of `deno task bench:http`: a bare `Deno.serve` with a Map, answering the
 * same /kv routes as ringkv (GET, PUT) with no storage, limits, auth or metrics. It logs one
 * JSON line with its URL on stderr. Usage: deno run -A bench/baseline_server.ts [--port N]
 */
import { parseArgs } from "node:util";
import { createLogger } from "../src/log.ts";

/** Largest value the baseline stores (its only limit). */
export const baselineValueBytesMax = 1024 * 1024;
/** Most keys the baseline holds. */
export const baselineKeysMax = 10_000_000;

/** The baseline's handler: GET/PUT/DELETE /kv/{key} on a Map, /health. */
export function baselineHandler(): (request: Request) => Promise<Response> {
  const map = new Map<string, Uint8Array>();
  let version = 0;
  return async (request) => {
    const url = request.url;
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const path = url.slice(pathStart);
    if (!path.startsWith("/kv/")) {
      return path === "/health"
        ? Response.json({ status: "ok" })
        : new Response(null, { status: 404 });
    }
    const key = path.slice(4);
    if (request.method === "GET") {
      const value = map.get(key);
      return value === undefined
        ? new Response(null, { status: 404 })
        : new Response(value as BodyInit, {
          headers: { "content-type": "application/octet-stream" },
        });
    }
    if (request.method === "PUT") {
      const value = new Uint8Array(await request.arrayBuffer());
      if (value.byteLength > baselineValueBytesMax) return new Response(null, { status: 413 });
      if (!map.has(key) && map.size >= baselineKeysMax) return new Response(null, { status: 507 });
      const created = !map.has(key);
      map.set(key, value);
      version++;
      return new Response(JSON.stringify({ version }), {
        status: created ? 201 : 200,
        headers: { etag: `"${version}"`, "content-type": "application/json" },
      });
    }
    if (request.method === "DELETE") {
      return new Response(null, { status: map.delete(key) ? 204 : 404 });
    }
    return new Response(null, { status: 405, headers: { allow: "GET, PUT, DELETE" } });
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const logger = createLogger();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port ?? 0),
    onListen: ({ port }) => logger.info("listening", { url: `http://127.0.0.1:${port}` }),
  }, baselineHandler());
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
}
