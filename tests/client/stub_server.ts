/**
 * A small in-memory stand-in for a ringkv node on a free loopback port, speaking the HTTP
 * contract (kv, list, batch, health, ready, status, bearer auth), with scripted failures so
 * tests can show how the client reacts to 503s, slow answers and dropped connections.
 */

/** A scripted answer that replaces the next matching request's real one. */
export interface ScriptedFailure {
  /** HTTP status to answer with; "hang" never answers (until the client gives up). */
  status: number | "hang";
  /** Problem type slug of a 503 (default "overloaded"). */
  problemType?: string;
  /** Retry-After header, seconds. */
  retryAfterS?: number;
  /** Apply the request before answering (a write whose ack was lost). */
  applyFirst?: boolean;
}

/** A running stub. */
export interface StubServer {
  url: string;
  /** Requests seen, as "METHOD path". */
  requests: string[];
  /** Failures answered to the next requests, in order (all routes but /health). */
  failures: ScriptedFailure[];
  /** Current entries by key (latin1 string of the key bytes). */
  entries: Map<string, { value: Uint8Array; version: number }>;
  close(): Promise<void>;
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const fromLatin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

function percentDecode(text: string): Uint8Array {
  const out: number[] = [];
  const raw = new TextEncoder().encode(text);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25) {
      out.push(parseInt(String.fromCharCode(raw[i + 1], raw[i + 2]), 16));
      i += 2;
    } else {
      out.push(raw[i]);
    }
  }
  return new Uint8Array(out);
}

function problem(status: number, type: string, extra: Record<string, unknown> = {}): Response {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (status === 401) headers["www-authenticate"] = "Bearer";
  return new Response(
    JSON.stringify({
      type: `urn:ringkv:problem:${type}`,
      title: type,
      status,
      detail: type,
      ...extra,
    }),
    { status, headers },
  );
}

function toBase64(bytes: Uint8Array): string {
  return btoa(latin1(bytes));
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Starts a stub on 127.0.0.1:0; `token` turns on bearer auth for every route but /health. */
export function startStubServer(options: { token?: string } = {}): StubServer {
  const entries = new Map<string, { value: Uint8Array; version: number }>();
  const requests: string[] = [];
  const failures: ScriptedFailure[] = [];
  let version = 0;
  const hanging = new Set<() => void>();

  function putEntry(key: string, value: Uint8Array): number {
    version++;
    entries.set(key, { value, version });
    return version;
  }

  function checkCondition(key: string, ifMatch: string | null, ifNoneMatch: string | null) {
    const current = entries.get(key);
    if (ifNoneMatch === "*" && current) return false;
    if (ifMatch !== null && (!current || `"${current.version}"` !== ifMatch)) return false;
    return true;
  }

  async function kv(request: Request, key: string): Promise<Response> {
    const current = entries.get(key);
    const ifMatch = request.headers.get("if-match");
    const ifNoneMatch = request.headers.get("if-none-match");
    if (request.method === "GET" || request.method === "HEAD") {
      if (!current) return problem(404, "not-found");
      return new Response(request.method === "GET" ? (current.value as BodyInit) : null, {
        headers: { "content-type": "application/octet-stream", etag: `"${current.version}"` },
      });
    }
    if (request.method === "PUT") {
      const value = new Uint8Array(await request.arrayBuffer());
      if (!checkCondition(key, ifMatch, ifNoneMatch)) {
        return problem(
          412,
          "condition-failed",
          current ? { current_version: current.version } : {},
        );
      }
      const v = putEntry(key, value);
      return new Response(JSON.stringify({ version: v }), {
        status: current ? 200 : 201,
        headers: { etag: `"${v}"`, "content-type": "application/json" },
      });
    }
    if (request.method === "DELETE") {
      if (!current) return problem(404, "not-found");
      if (!checkCondition(key, ifMatch, null)) return problem(412, "condition-failed");
      entries.delete(key);
      version++;
      return new Response(null, { status: 204, headers: { etag: `"${version}"` } });
    }
    return problem(405, "method-not-allowed");
  }

  function list(url: URL, rawQuery: string): Response {
    const params = new Map<string, Uint8Array>();
    for (const part of rawQuery.split("&").filter((p) => p !== "")) {
      const [name, value = ""] = part.split("=");
      params.set(name, percentDecode(value));
    }
    const text = (name: string) => {
      const v = params.get(name);
      return v === undefined ? undefined : new TextDecoder().decode(v);
    };
    const prefix = params.has("prefix") ? latin1(params.get("prefix")!) : undefined;
    const start = params.has("start") ? latin1(params.get("start")!) : undefined;
    const end = params.has("end") ? latin1(params.get("end")!) : undefined;
    if (prefix !== undefined && (start !== undefined || end !== undefined)) {
      return problem(400, "invalid-parameter");
    }
    const limit = Math.min(Number(text("limit") ?? "100"), 1000);
    const after = text("cursor") ? atob(text("cursor")!) : undefined;
    const reverse = text("reverse") === "true";
    let keys = [...entries.keys()].sort();
    if (reverse) keys.reverse();
    keys = keys.filter((k) =>
      (prefix === undefined || k.startsWith(prefix)) && (start === undefined || k >= start) &&
      (end === undefined || k < end) &&
      (after === undefined || (reverse ? k < after : k > after))
    );
    const page = keys.slice(0, limit);
    const keysOnly = text("keys_only") === "true";
    const items = page.map((k) => {
      const entry = entries.get(k)!;
      const keyText = utf8(fromLatin1(k));
      const valueText = keysOnly ? "" : utf8(entry.value);
      if (keyText !== undefined && valueText !== undefined) {
        return keysOnly
          ? { key: keyText, version: entry.version }
          : { key: keyText, value: valueText, version: entry.version };
      }
      const item: Record<string, unknown> = {
        key: btoa(k),
        version: entry.version,
        encoding: "base64",
      };
      if (!keysOnly) item.value = toBase64(entry.value);
      return item;
    });
    const next = keys.length > limit ? btoa(page[page.length - 1]) : null;
    void url;
    return Response.json({ items, next });
  }

  async function batch(request: Request): Promise<Response> {
    const body = await request.json() as { ops: Record<string, string>[] };
    const decode = (op: Record<string, string>, text: string) =>
      op.encoding === "base64" ? atob(text) : latin1(new TextEncoder().encode(text));
    for (const [i, op] of body.ops.entries()) {
      const key = decode(op, op.key);
      if (!checkCondition(key, op.if_match ?? null, op.if_none_match ?? null)) {
        return problem(412, "condition-failed", { op_index: i });
      }
    }
    version++;
    for (const op of body.ops) {
      const key = decode(op, op.key);
      if (op.op === "put") entries.set(key, { value: fromLatin1(decode(op, op.value)), version });
      else entries.delete(key);
    }
    return Response.json({ version });
  }

  async function route(request: Request, url: URL, rawQuery: string): Promise<Response> {
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    if (options.token && request.headers.get("authorization") !== `Bearer ${options.token}`) {
      return problem(401, "unauthorized");
    }
    if (url.pathname === "/ready") return Response.json({ status: "ready" });
    if (url.pathname === "/status") return Response.json({ id: "stub", keys: entries.size });
    if (url.pathname === "/batch" && request.method === "POST") return await batch(request);
    if (url.pathname === "/kv") return list(url, rawQuery);
    if (url.pathname.startsWith("/kv/")) {
      return await kv(request, latin1(percentDecode(url.pathname.slice(4))));
    }
    return problem(404, "not-found");
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const queryAt = request.url.indexOf("?");
      const rawQuery = queryAt < 0 ? "" : request.url.slice(queryAt + 1);
      requests.push(`${request.method} ${url.pathname}${url.search}`);
      const failure = url.pathname === "/health" ? undefined : failures.shift();
      if (failure === undefined) return await route(request, url, rawQuery);
      if (failure.applyFirst) await route(request.clone(), url, rawQuery);
      if (failure.status === "hang") {
        // Holds the answer back until the stub closes or 10 s pass (bounded).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000);
          hanging.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        return new Response(null, { status: 504 });
      }
      const response = problem(failure.status, failure.problemType ?? "overloaded");
      if (failure.retryAfterS !== undefined) {
        response.headers.set("retry-after", String(failure.retryAfterS));
      }
      return response;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    failures,
    entries,
    async close() {
      for (const resolve of hanging) resolve();
      await server.shutdown();
    },
  };
}
