/** Shared set-up of the handler tests: an API over an in-memory service, no socket. */
import { type ApiHandler, type ApiLimits, createApiHandler } from "../../src/api/mod.ts";
import { Metrics } from "../../src/metrics.ts";
import { MemoryKvService } from "./memory_service.ts";

/** Small limits so tests can cross them cheaply. */
export const testLimits: ApiLimits = {
  keyBytesMax: 16,
  valueBytesMax: 64,
  bodyBytesMax: 512,
  batchOpsMax: 4,
  listLimitMax: 5,
};

/** An API over a fresh in-memory service. */
export interface TestApi {
  api: ApiHandler;
  service: MemoryKvService;
  metrics: Metrics;
  /** Sends a request to path (e.g. "/kv/a") and returns the response. */
  send(method: string, path: string, init?: RequestInit): Promise<Response>;
}

/** Builds a TestApi; options go to createApiHandler. */
export function testApi(
  options: { authTokens?: string[]; requestsConcurrentMax?: number } = {},
): TestApi {
  const service = new MemoryKvService();
  const metrics = new Metrics({ status: () => service.status(), processMetrics: false });
  const api = createApiHandler({
    service,
    limits: testLimits,
    metrics,
    nodeId: "t1",
    configSummary: { sync: "always" },
    ...options,
  });
  const send = (method: string, path: string, init: RequestInit = {}) =>
    api.handle(new Request("http://127.0.0.1:7070" + path, { method, ...init }));
  return { api, service, metrics, send };
}

/** The JSON body of a response. */
export async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json();
}
