/**
 * The API's one entry: a function Request -> Response that authenticates, limits, routes and
 * maps errors, usable by Deno.serve or called directly in tests.
 */
import type { KvService } from "../cluster/mod.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { FaultInjector } from "../transport/mod.ts";
import { handleDeleteFaults, handleGetFaults, handlePutFaults } from "./admin_handlers.ts";
import type { ClusterAdmin } from "../cluster/membership.ts";
import { type Authenticator, createAuthenticator } from "./auth.ts";
import {
  type ClusterContext,
  handleDeleteMember,
  handleGetCluster,
  handlePostLeader,
  handlePostMembers,
} from "./cluster_handlers.ts";
import { handleBatch } from "./batch_handler.ts";
import {
  type ApiLimits,
  type ApiState,
  type RequestContext,
  type RequestUrl,
  splitRequestUrl,
} from "./context.ts";
import { percentDecode } from "./codec.ts";
import { HttpError, httpErrorResponse, problemResponse, serviceErrorResponse } from "./errors.ts";
import { handleDelete, handleGet, handlePut, keyPathOffset, withHeaders } from "./kv_handlers.ts";
import { ConcurrencyGate } from "./limits.ts";
import { handleList } from "./list_handler.ts";
import { handleHealth, handleMetrics, handleReady, handleStatus } from "./ops_handlers.ts";

type Handler = (request: Request, ctx: RequestContext) => Response | Promise<Response>;

interface Route {
  /** Metric label; never the raw path. */
  name: string;
  pattern: URLPattern;
  methods: Record<string, Handler>;
}

/** Options of {@link createApiHandler}. */
export interface ApiOptions {
  service: KvService;
  limits: ApiLimits;
  /** Accepted bearer tokens; none = no auth. */
  authTokens?: readonly string[];
  /** Requests in progress at once before 503. Default 1024. */
  requestsConcurrentMax?: number;
  metrics?: Metrics;
  logger?: Logger;
  nodeId?: string;
  configSummary?: Record<string, unknown>;
  /** The node's fault injector (tests only); absent: /admin/faults answers 404. */
  faults?: FaultInjector;
  /** The cluster's membership (replicated mode); absent: /cluster routes answer 404. */
  cluster?: ClusterAdmin;
}

/** The API handler plus the controls its host needs. */
export interface ApiHandler {
  /** Answers one request; never throws. */
  handle(request: Request): Promise<Response>;
  /**
   * Starts a graceful stop: from now on /ready and every new request but /health get 503
   * with Retry-After and Connection: close; requests already admitted run to completion.
   */
  beginStop(): void;
  /** Resolves when no admitted request is in progress. */
  whenIdle(): Promise<void>;
  /** Requests currently in progress. */
  readonly inFlight: number;
}

const knownMethods = new Set(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]);

/** The longest request URL accepted before routing (a key is bounded separately). */
const urlLengthMax = 64 * 1024;

/** Builds the API handler over a service; see {@link ApiOptions}. */
export function createApiHandler(options: ApiOptions): ApiHandler {
  const router = new ApiRouter(options);
  return {
    handle: (request) => router.handle(request),
    beginStop: () => router.beginStop(),
    whenIdle: () => router.gate.whenIdle(),
    get inFlight() {
      return router.gate.inFlight;
    },
  };
}

/** What routing decided: the response and the route's metric label. */
interface Routed {
  routeName: string;
  response: Response;
}

class ApiRouter {
  readonly gate: ConcurrencyGate;
  readonly #auth: Authenticator;
  readonly #state: ApiState;
  readonly #logger: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #keyRoute: Route;
  readonly #fixedRoutes: Route[];

  constructor(options: ApiOptions) {
    this.#auth = createAuthenticator(options.authTokens ?? []);
    const gate = new ConcurrencyGate(options.requestsConcurrentMax ?? 1024);
    this.gate = gate;
    const state: ApiState = {
      service: options.service,
      limits: options.limits,
      nodeId: options.nodeId ?? "n1",
      configSummary: options.configSummary ?? {},
      startedAtMs: performance.now(),
      stopping: false,
      inFlight: () => gate.inFlight,
    };
    this.#state = state;
    this.#logger = options.logger ?? silentLogger;
    const metrics = options.metrics;
    this.#metrics = metrics;
    // Keys may contain "/" and dot segments, so /kv/{key} is matched on the raw path prefix.
    this.#keyRoute = route("kv_key", {
      pathname: "/kv/*",
      methods: { GET: handleGet, HEAD: handleGet, PUT: handlePut, DELETE: handleDelete },
    });
    this.#fixedRoutes = [
      route("kv_list", { pathname: "/kv", methods: { GET: handleList } }),
      route("batch", { pathname: "/batch", methods: { POST: (req) => handleBatch(req, state) } }),
      route("ready", { pathname: "/ready", methods: { GET: () => handleReady(state) } }),
      route("status", { pathname: "/status", methods: { GET: () => handleStatus(state) } }),
      route("metrics", { pathname: "/metrics", methods: { GET: () => handleMetrics(metrics) } }),
      faultsRoute(options.faults, state),
      ...clusterRoutes({ admin: options.cluster, state }),
    ];
  }

  beginStop(): void {
    this.#state.stopping = true;
  }

  handle(request: Request): Promise<Response> {
    const fast = this.#fastGet(request);
    return fast !== undefined ? Promise.resolve(fast) : this.#handleRouted(request);
  }

  /**
   * GET /kv/{key} answered synchronously when the service has the value in memory: one
   * function, no Promise chain, no headers dictionary. Anything unusual (HEAD, a query, a
   * malformed or over-long key, If-None-Match, a stop in progress, a full gate, a refused
   * token, a value not cached) returns undefined and takes the general path, which gives
   * the same answer. This path is most of a read-heavy node's CPU, so it is kept lean.
   */
  #fastGet(request: Request): Response | undefined {
    const service = this.#state.service;
    const getCached = service.getCached;
    if (getCached === undefined || request.method !== "GET" || this.#state.stopping) {
      return undefined;
    }
    if (service.servesCachedNow?.() === false) return undefined;
    const startMs = performance.now();
    const rawUrl = request.url;
    if (rawUrl.length > urlLengthMax) return undefined;
    const schemeEnd = rawUrl.indexOf("://");
    const pathStart = schemeEnd < 0 ? -1 : rawUrl.indexOf("/", schemeEnd + 3);
    if (pathStart < 0 || !rawUrl.startsWith("/kv/", pathStart)) return undefined;
    const key = plainKey(rawUrl, pathStart, this.#state.limits.keyBytesMax);
    if (key === undefined || !this.gate.tryEnter()) return undefined;
    let response: Response | undefined;
    try {
      if (!this.#auth.allows(request) || request.headers.has("if-none-match")) return undefined;
      const found = getCached.call(this.#state.service, key);
      if (found === undefined || found === null) return undefined;
      response = withHeaders(
        new Response(found.value as Uint8Array<ArrayBuffer>),
        "application/octet-stream",
        found.version,
      );
    } catch {
      // Any surprise (a closed store, ...) is for the general path to report.
      return undefined;
    } finally {
      this.gate.leave();
    }
    const seconds = (performance.now() - startMs) / 1000;
    this.#metrics?.recordRequest({ method: "GET", route: "kv_key", code: 200 }, seconds);
    return response;
  }

  async #handleRouted(request: Request): Promise<Response> {
    const startMs = performance.now();
    let routed: Routed;
    try {
      routed = await this.#route(request);
    } catch (error) {
      routed = {
        routeName: "unknown",
        response: errorResponse(error, {
          logger: this.#logger,
          method: request.method,
          route: "?",
        }),
      };
    }
    const { routeName, response } = routed;
    if (response.status >= 400 && request.body !== null && unreadBody(request, response)) {
      // The body was left unread (or cut at a limit): close rather than read it to reuse the
      // connection.
      response.headers.set("connection", "close");
    }
    const method = knownMethods.has(request.method) ? request.method : "OTHER";
    const seconds = (performance.now() - startMs) / 1000;
    this.#metrics?.recordRequest({ method, route: routeName, code: response.status }, seconds);
    return response;
  }

  async #route(request: Request): Promise<Routed> {
    if (request.url.length > urlLengthMax) {
      const detail = `the URL is longer than ${urlLengthMax} bytes`;
      return { routeName: "unknown", response: problemResponse("key-too-long", detail) };
    }
    const url = splitRequestUrl(request.url);
    if (url.rawPath === "/health") return { routeName: "health", response: health(request) };
    if (this.#state.stopping) {
      const response = problemResponse("unavailable", "the node is stopping; retry shortly", {
        headers: { "retry-after": "1", "connection": "close" },
      });
      return { routeName: "stopping", response };
    }
    if (!this.gate.tryEnter()) {
      const response = problemResponse(
        "overloaded",
        "too many requests in progress; retry shortly",
        {
          headers: { "retry-after": "1" },
        },
      );
      return { routeName: "overloaded", response };
    }
    try {
      const found = url.rawPath.startsWith("/kv/")
        ? this.#keyRoute
        : this.#fixedRoutes.find((r) => r.pattern.test({ pathname: url.rawPath }));
      if (!this.#auth.allows(request)) {
        return { routeName: found?.name ?? "unknown", response: unauthorized() };
      }
      if (found === undefined) {
        const response = problemResponse("not-found", `no route ${truncate(url.rawPath)}`);
        return { routeName: "unknown", response };
      }
      return { routeName: found.name, response: await this.#dispatch(request, { url, found }) };
    } finally {
      this.gate.leave();
    }
  }

  async #dispatch(request: Request, to: { url: RequestUrl; found: Route }): Promise<Response> {
    const { url, found } = to;
    const handler = found.methods[request.method];
    if (handler === undefined) {
      const allow = Object.keys(found.methods).join(", ");
      return problemResponse("method-not-allowed", `${found.name} accepts ${allow}`, {
        headers: { allow },
      });
    }
    try {
      return await handler(request, { state: this.#state, url });
    } catch (error) {
      return errorResponse(error, {
        logger: this.#logger,
        method: request.method,
        route: found.name,
      });
    }
  }
}

/**
 * The key of a /kv/{key} URL whose path starts at `pathStart`, when it is a plain one: no
 * query or fragment, 1..keyBytesMax bytes once decoded, well-formed percent-encoding.
 * Undefined otherwise (the general path gives the precise answer).
 */
function plainKey(url: string, pathStart: number, keyBytesMax: number): Uint8Array | undefined {
  const start = pathStart + keyPathOffset;
  if (url.length - start > keyBytesMax * 3) return undefined;
  if (url.indexOf("?", start) >= 0 || url.indexOf("#", start) >= 0) return undefined;
  const key = percentDecode(url.slice(start));
  if (key === undefined || key.byteLength === 0 || key.byteLength > keyBytesMax) return undefined;
  return key;
}

function health(request: Request): Response {
  if (request.method === "GET" || request.method === "HEAD") return handleHealth();
  return problemResponse("method-not-allowed", "health accepts GET, HEAD", {
    headers: { allow: "GET, HEAD" },
  });
}

function faultsRoute(faults: FaultInjector | undefined, state: ApiState): Route {
  return route("admin_faults", {
    pathname: "/admin/faults",
    methods: {
      GET: () => handleGetFaults(faults),
      PUT: (req) => handlePutFaults(req, { faults, state }),
      DELETE: () => handleDeleteFaults(faults),
    },
  });
}

function clusterRoutes(context: ClusterContext): Route[] {
  return [
    route("cluster", { pathname: "/cluster", methods: { GET: () => handleGetCluster(context) } }),
    route("cluster_members", {
      pathname: "/cluster/members",
      methods: { POST: (req) => handlePostMembers(req, context) },
    }),
    route("cluster_member", {
      pathname: "/cluster/members/:id",
      methods: { DELETE: (_req, ctx) => handleDeleteMember(ctx.url.rawPath, context) },
    }),
    route("cluster_leader", {
      pathname: "/cluster/leader",
      methods: { POST: (req) => handlePostLeader(req, context) },
    }),
  ];
}

function route(name: string, spec: { pathname: string; methods: Record<string, Handler> }): Route {
  return { name, pattern: new URLPattern({ pathname: spec.pathname }), methods: spec.methods };
}

function unreadBody(request: Request, response: Response): boolean {
  return !request.bodyUsed || response.status === 413 || response.status === 414;
}

function unauthorized(): Response {
  return problemResponse("unauthorized", "send Authorization: Bearer <token>", {
    headers: { "www-authenticate": 'Bearer realm="ringkv"' },
  });
}

function truncate(path: string): string {
  return path.length > 64 ? path.slice(0, 64) + "..." : path;
}

function errorResponse(
  error: unknown,
  where: { logger: Logger; method: string; route: string },
): Response {
  const { logger, method, route } = where;
  if (error instanceof HttpError) return httpErrorResponse(error);
  const mapped = serviceErrorResponse(error);
  if (mapped !== undefined) {
    if (mapped.status >= 500 && mapped.status !== 503) {
      logger.error("request failed", {
        method,
        route,
        error,
        code: (error as { code?: string }).code,
      });
    }
    return mapped;
  }
  logger.error("unexpected error", {
    method,
    route,
    error,
    stack: error instanceof Error ? error.stack : undefined,
  });
  return problemResponse("internal", "an unexpected error occurred; see the node log");
}
