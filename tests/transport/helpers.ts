/** Shared helpers of the transport tests: clusters of transports on loopback. */
import { createLogger, type Logger } from "../../src/log.ts";
import { seededRandom } from "../../src/seeded_random.ts";
import {
  type Envelope,
  type NodeId,
  PeerTransport,
  type PeerTransportOptions,
} from "../../src/transport/mod.ts";

/** The secret every test cluster shares. */
export const secret = "ringkv-test-cluster-secret-0123456789";

/** Polls `condition` every few ms until it holds; throws after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A logger that keeps its parsed lines for assertions. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", sink: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A transport plus everything it received, in order. */
export interface TestNode {
  id: NodeId;
  transport: PeerTransport;
  received: { from: NodeId; envelope: Envelope }[];
}

/** Starts one transport that records what it receives. */
export async function startNode(
  id: NodeId,
  options: Partial<PeerTransportOptions> = {},
): Promise<TestNode> {
  const received: TestNode["received"] = [];
  const transport = await PeerTransport.start({
    nodeId: id,
    secret,
    onMessage: (from, envelope) => received.push({ from, envelope }),
    reconnectDelayMsMin: 10,
    reconnectDelayMsMax: 100,
    ...options,
  });
  return { id, transport, received };
}

/** Starts transports for `ids`, tells each the others' addresses, waits until all connect. */
export async function startCluster(
  ids: NodeId[],
  options: (id: NodeId) => Partial<PeerTransportOptions> = () => ({}),
): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (const id of ids) nodes.push(await startNode(id, options(id)));
  for (const a of nodes) {
    for (const b of nodes) {
      if (a !== b) a.transport.setPeer(b.id, addrOf(b));
    }
  }
  await waitFor(
    () => nodes.every((a) => nodes.every((b) => a === b || a.transport.isConnected(b.id))),
    "every pair connected",
  );
  return nodes;
}

/** "host:port" of a node's listener. */
export function addrOf(node: TestNode): string {
  const { hostname, port } = node.transport.addr;
  return `${hostname}:${port}`;
}

/** Closes every node. */
export async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.close()));
}

/** Seed for randomized tests: RINGKV_TEST_SEED or a fresh one, printed to reproduce. */
export function testSeed(name: string): number {
  const fromEnv = Deno.env.get("RINGKV_TEST_SEED");
  const seed = fromEnv ? Number(fromEnv) : crypto.getRandomValues(new Uint32Array(1))[0];
  console.error(`${name}: seed ${seed} (rerun with RINGKV_TEST_SEED=${seed})`);
  return seed;
}

/** A small seeded PRNG for tests (mulberry32): floats in [0, 1). */
export { seededRandom };
