/** Operations routes: /health, /ready, /status, /metrics. */
import type { Metrics } from "../metrics.ts";
import type { ApiState } from "./context.ts";
import { problemResponse } from "./errors.ts";

const jsonHeaders = { "content-type": "application/json" };

/** GET /health: the process is alive. Never needs auth and is never refused for load. */
export function handleHealth(): Response {
  return new Response('{"status":"ok"}', { status: 200, headers: jsonHeaders });
}

/** GET /ready: 200 when writes can be served, else 503 with Retry-After. */
export function handleReady(state: ApiState): Response {
  if (state.stopping || !state.service.ready()) {
    return problemResponse("unavailable", "the node is not ready to serve writes", {
      headers: { "retry-after": "1" },
    });
  }
  return new Response('{"status":"ready"}', { status: 200, headers: jsonHeaders });
}

/** GET /status: this node's figures and a configuration summary without secrets. */
export function handleStatus(state: ApiState): Response {
  const s = state.service.status();
  const lookups = s.cacheHits + s.cacheMisses;
  const body = {
    id: state.nodeId,
    version: s.version,
    uptime_seconds: Math.round((performance.now() - state.startedAtMs) / 1000),
    keys: s.keys,
    live_bytes: s.liveBytes,
    dead_bytes: s.deadBytes,
    disk_bytes: s.diskBytes,
    segments: s.segments,
    merges: s.merges,
    requests_in_flight: state.inFlight(),
    cache: {
      hits: s.cacheHits,
      misses: s.cacheMisses,
      bytes: s.cacheBytes,
      hit_rate: lookups === 0 ? 0 : s.cacheHits / lookups,
    },
    config: state.configSummary,
  };
  return new Response(JSON.stringify(body), { status: 200, headers: jsonHeaders });
}

/** GET /metrics: Prometheus text exposition; 404 when the node runs without metrics. */
export async function handleMetrics(metrics: Metrics | undefined): Promise<Response> {
  if (metrics === undefined) return problemResponse("not-found", "metrics are disabled");
  const text = await metrics.render();
  return new Response(text, { status: 200, headers: { "content-type": metrics.contentType } });
}
