/**
 * A ringkv node: opens the store, wraps it in the KV service, serves the HTTP API, and stops
 * gracefully. `serveCommand` is `main.ts serve`; `startNode` is the same for tests and benches.
 */
import { type ApiHandler, createApiHandler } from "./api/mod.ts";
import type { KvService, ReplicatedKvService } from "./cluster/mod.ts";
import { openReplicatedService, readClusterSecret } from "./cluster/replicated_node.ts";
import { type Config, ConfigError, configSummary, helpText, parseConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { FaultInjector } from "./transport/mod.ts";

/** A running node. */
export interface NodeHandle {
  /** The base URL clients use, e.g. "http://127.0.0.1:7070" (the real port when 0 was asked). */
  url: string;
  config: Config;
  /**
   * Stops gracefully: answers new requests 503, lets admitted ones finish (at most
   * `stopTimeoutMs`), closes the listener, then syncs and closes the store. Idempotent.
   */
  close(): Promise<void>;
}

/** Options of {@link startNode}. */
export interface StartNodeOptions {
  /** Default: a JSON-lines logger on stderr at the config's level. */
  logger?: Logger;
  /** Longest wait for in-flight requests on close. Default 10 s. */
  stopTimeoutMs?: number;
  /** Replicated mode: called once if the Raft group fails and the node must stop. */
  onFatal?: (error: unknown) => void;
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

async function readTls(config: Config): Promise<{ cert: string; key: string } | undefined> {
  if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined) return undefined;
  const [cert, key] = await Promise.all([
    Deno.readTextFile(config.tlsCertFile),
    Deno.readTextFile(config.tlsKeyFile),
  ]);
  return { cert, key };
}

/**
 * Starts the node's Raft host and its KvService: a standalone node is a cluster of one (the
 * same code path as a member of a larger cluster).
 */
async function openService(
  config: Config,
  options: {
    logger: Logger;
    metrics?: Metrics;
    onFatal?: (error: unknown) => void;
    faults?: FaultInjector;
  },
): Promise<ReplicatedKvService> {
  const raftMetrics = options.metrics?.raft();
  const service = await openReplicatedService(config, {
    secret: config.cluster === undefined ? undefined : await readClusterSecret(config.cluster),
    logger: options.logger,
    onFatal: options.onFatal ?? (() => {}),
    faults: options.faults,
    observer: raftMetrics,
  });
  raftMetrics?.setSource(service.host);
  options.metrics?.setStatusSource(() => service.status());
  return service;
}

/** Starts a node with this config. Throws when the store cannot open or the port is taken. */
export async function startNode(
  config: Config,
  options: StartNodeOptions = {},
): Promise<NodeHandle> {
  const logger = options.logger ??
    createLogger({ level: config.logLevel, fields: { node: config.id } });
  const tls = await readTls(config);
  const metrics = config.metrics ? new Metrics() : undefined;
  const faults = config.faultInjection ? new FaultInjector({ enabled: true }) : undefined;
  if (faults !== undefined) {
    logger.warn("fault injection is enabled: /admin/faults can cut this node off; tests only");
  }
  const service = await openService(config, {
    logger,
    metrics,
    onFatal: options.onFatal,
    faults,
  }).catch((error) => {
    metrics?.close();
    throw error;
  });
  const api = createApiHandler({
    service,
    limits: config,
    authTokens: config.authTokens,
    requestsConcurrentMax: config.requestsConcurrentMax,
    metrics,
    logger: logger.child({ component: "api" }),
    nodeId: config.id,
    configSummary: configSummary(config),
    faults,
    cluster: service.membership,
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.httpHost,
      port: config.httpPort,
      ...(tls ?? {}),
      onListen: () => {},
      onError: (error) => {
        logger.error("unhandled request error", { error });
        return new Response(null, { status: 500 });
      },
    }, api.handle);
  } catch (error) {
    await service.close();
    metrics?.close();
    throw error;
  }
  const url = `${tls ? "https" : "http"}://${urlHost(config.httpHost)}:${server.addr.port}`;
  const auth = config.authTokens.length > 0;
  logger.info("listening", { url, data_dir: config.dataDir, sync: config.sync, auth });
  const stop = () =>
    stopNode({ api, server, service, logger, url, metrics }, options.stopTimeoutMs);
  let closing: Promise<void> | undefined;
  return { url, config, close: () => (closing ??= stop()) };
}

/** The parts of a running node that a stop takes down, in order. */
interface RunningParts {
  api: ApiHandler;
  server: Deno.HttpServer<Deno.NetAddr>;
  service: KvService;
  logger: Logger;
  url: string;
  metrics: Metrics | undefined;
}

async function stopNode(parts: RunningParts, stopTimeoutMs = 10_000): Promise<void> {
  const { api, server, service, logger, url } = parts;
  api.beginStop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), stopTimeoutMs);
  });
  // Deno's shutdown cuts request bodies still streaming in, so drain admitted requests
  // first (new ones get 503 meanwhile), then close the listener and connections.
  const drained = api.whenIdle().then(() => server.shutdown()).then(() => "drained" as const);
  const outcome = await Promise.race([drained, timeout]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    logger.warn("stop timeout: requests still in progress", {
      in_flight: api.inFlight,
      stopTimeoutMs,
    });
  }
  await service.close();
  parts.metrics?.close();
  logger.info("stopped", { url });
}

/** Waits for SIGINT or SIGTERM; a second signal exits at once with code 130. */
function waitForStopSignal(logger: Logger): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: Deno.Signal) => {
      if (received) {
        logger.warn("second signal: exiting now", { signal });
        Deno.exit(130);
      }
      received = true;
      resolve(signal);
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => onSignal(signal));
    }
  });
}

/**
 * `main.ts serve [flags]`: runs a node until SIGINT/SIGTERM, then stops gracefully.
 * Resolves to the exit code: 0 after a clean stop or --help, 1 when the node cannot start,
 * 2 for invalid configuration.
 */
export async function serveCommand(args: string[]): Promise<number> {
  let config: Config;
  try {
    const parsed = parseConfig(args);
    if (parsed.help) {
      await Deno.stdout.write(new TextEncoder().encode(helpText()));
      return 0;
    }
    config = parsed.config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    await Deno.stderr.write(new TextEncoder().encode(`ringkv serve: ${error.message}\n`));
    return 2;
  }
  const logger = createLogger({ level: config.logLevel, fields: { node: config.id } });
  let node: NodeHandle;
  try {
    node = await startNode(config, {
      logger,
      onFatal: () => {
        logger.error("stopping: a Raft group failed");
        Deno.exit(1);
      },
    });
  } catch (error) {
    logger.error("cannot start", { error, code: (error as { code?: string }).code });
    return 1;
  }
  const signal = await waitForStopSignal(logger);
  logger.info("stopping", { signal });
  await node.close();
  return 0;
}
