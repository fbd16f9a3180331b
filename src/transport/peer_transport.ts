/**
 * The peer transport: one authenticated TCP connection per peer pair, shared by every Raft
 * group. The node with the smaller id (string order) dials, the other accepts, so two nodes
 * never race to open two connections; a node accepts only known peers with a smaller id,
 * so the peer list must name a node before it can connect. Sends are queued without blocking and flushed on a
 * microtask as one frame per batch; a lost connection is redialed with capped, jittered
 * exponential backoff.
 */
import { type Logger, silentLogger } from "../log.ts";
import { backoffDelayMs } from "./backoff.ts";
import { BatchDecoder, BatchEncoder, type Envelope, isGroupId, type NodeId } from "./codec.ts";
import { FaultInjector } from "./fault_injection.ts";
import { FrameConn } from "./frame_conn.ts";
import { invariant } from "./invariant.ts";
import {
  frameBytesMaxCeiling,
  frameBytesMaxDefault,
  FrameError,
  frameHeaderBytes,
} from "./framing.ts";
import {
  acceptHandshake,
  dialHandshake,
  HandshakeError,
  handshakeFrameBytesMax,
  handshakeTimeoutMsDefault,
  importClusterKey,
  isNodeId,
} from "./handshake.ts";
import { emptyPeerStats, type PeerStats, sumPeerStats, type TransportStats } from "./peer_stats.ts";

/** Called for every envelope received from a peer, in the order that peer sent them. */
export type MessageHandler = (from: NodeId, envelope: Envelope) => void;

/** Options of {@link PeerTransport.start}. */
export interface PeerTransportOptions {
  /** This node's id. */
  nodeId: NodeId;
  /** The cluster secret (at least 16 bytes); never sent on the wire. */
  secret: string | Uint8Array;
  /** Receives every inbound envelope. Exceptions it throws are logged and ignored. */
  onMessage: MessageHandler;
  /** Where to listen. Default 127.0.0.1, port 0 (any free port). */
  listen?: { hostname?: string; port?: number };
  /** Known peers: id -> "host:port" of their peer listener. Changeable with setPeer. */
  peers?: Record<NodeId, string>;
  /** Told whenever a peer connection comes up or goes down. */
  onPeerState?: (peer: NodeId, connected: boolean) => void;
  /** Fault injection; default an injector that is disabled. */
  faults?: FaultInjector;
  /** Structured logger. Default silent. */
  logger?: Logger;
  /** Largest frame body sent or accepted. Default 16 MiB. */
  frameBytesMax?: number;
  /** Envelopes queued per peer before the oldest are dropped. Default 8192. */
  queueEnvelopesMax?: number;
  /** Envelopes carried by one frame at most. Default 1024. */
  batchEnvelopesMax?: number;
  /** Deadline of a handshake. Default 5000 ms. */
  handshakeTimeoutMs?: number;
  /** Inbound connections allowed in their handshake at once. Default 64. */
  pendingHandshakesMax?: number;
  /** First redial delay after a failure. Default 50 ms. */
  reconnectDelayMsMin?: number;
  /** Cap of the redial delay. Default 1000 ms. */
  reconnectDelayMsMax?: number;
  /** Longest a frame write may take before the connection is dropped. Default 10000 ms. */
  writeTimeoutMs?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
}

interface Link {
  id: NodeId;
  addr: string;
  dials: boolean;
  queue: Envelope[];
  fc: FrameConn | null;
  writing: boolean;
  flushScheduled: boolean;
  dialing: boolean;
  attempt: number;
  reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  delayed: { dueAtMs: number; envelope: Envelope }[];
  delayTimer: ReturnType<typeof setTimeout> | undefined;
  stats: PeerStats;
  failing: boolean;
}

function parseAddr(addr: string): { hostname: string; port: number } {
  const colon = addr.lastIndexOf(":");
  const port = Number(addr.slice(colon + 1));
  let hostname = addr.slice(0, colon);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`peer address must be host:port, got ${JSON.stringify(addr)}`);
  }
  return { hostname, port };
}

function positiveInt(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer in 1..${max}`);
  }
  return value;
}

interface Limits {
  frameBytesMax: number;
  queueEnvelopesMax: number;
  batchEnvelopesMax: number;
  handshakeTimeoutMs: number;
  pendingHandshakesMax: number;
  reconnectDelayMsMin: number;
  reconnectDelayMsMax: number;
  writeTimeoutMs: number;
}

/** Applies defaults and checks ranges; throws RangeError for a value out of range. */
function resolveLimits(o: PeerTransportOptions): Limits {
  const limits: Limits = {
    frameBytesMax: positiveInt(
      "frameBytesMax",
      o.frameBytesMax ?? frameBytesMaxDefault,
      frameBytesMaxCeiling,
    ),
    queueEnvelopesMax: positiveInt("queueEnvelopesMax", o.queueEnvelopesMax ?? 8192, 1 << 20),
    batchEnvelopesMax: positiveInt("batchEnvelopesMax", o.batchEnvelopesMax ?? 1024, 65_536),
    handshakeTimeoutMs: positiveInt(
      "handshakeTimeoutMs",
      o.handshakeTimeoutMs ?? handshakeTimeoutMsDefault,
      600_000,
    ),
    pendingHandshakesMax: positiveInt("pendingHandshakesMax", o.pendingHandshakesMax ?? 64, 4096),
    reconnectDelayMsMin: positiveInt("reconnectDelayMsMin", o.reconnectDelayMsMin ?? 50, 600_000),
    reconnectDelayMsMax: positiveInt(
      "reconnectDelayMsMax",
      o.reconnectDelayMsMax ?? 1000,
      600_000,
    ),
    writeTimeoutMs: positiveInt("writeTimeoutMs", o.writeTimeoutMs ?? 10_000, 600_000),
  };
  if (limits.reconnectDelayMsMax < limits.reconnectDelayMsMin) {
    throw new RangeError("reconnectDelayMsMax must be >= reconnectDelayMsMin");
  }
  return limits;
}

/** A running peer transport. Create with {@link PeerTransport.start}; end with close(). */
export class PeerTransport {
  /** This node's id. */
  readonly nodeId: NodeId;
  /** The fault injector consulted for every message. */
  readonly faults: FaultInjector;
  #key: CryptoKey;
  #listener: Deno.TcpListener;
  #log: Logger;
  #onMessage: MessageHandler;
  #onPeerState?: (peer: NodeId, connected: boolean) => void;
  #links = new Map<NodeId, Link>();
  #tasks = new Set<Promise<unknown>>();
  #pending = new Set<FrameConn>();
  #abort = new AbortController();
  #encoder = new BatchEncoder();
  #decoder: BatchDecoder;
  #closed = false;
  #closing: Promise<void> | null = null;
  #handshakeRejects = 0;
  #dialFailures = 0;
  #limits: Limits;
  #random: () => number;

  private constructor(key: CryptoKey, listener: Deno.TcpListener, options: PeerTransportOptions) {
    this.nodeId = options.nodeId;
    this.faults = options.faults ?? new FaultInjector();
    this.#key = key;
    this.#listener = listener;
    this.#log = (options.logger ?? silentLogger).child({ component: "transport" });
    this.#onMessage = options.onMessage;
    this.#onPeerState = options.onPeerState;
    this.#limits = resolveLimits(options);
    this.#random = options.random ?? Math.random;
    this.#decoder = new BatchDecoder({ frameBytesMax: this.#limits.frameBytesMax });
  }

  /**
   * Listens, then starts dialing the known peers this node dials. Throws RangeError for
   * invalid options (bad node id, short secret, bad address) and the listen error if the
   * address is taken.
   */
  static async start(options: PeerTransportOptions): Promise<PeerTransport> {
    if (!isNodeId(options.nodeId)) throw new RangeError(`invalid node id ${options.nodeId}`);
    const key = await importClusterKey(options.secret);
    const peers = Object.entries(options.peers ?? {});
    for (const [id, addr] of peers) {
      if (!isNodeId(id) || id === options.nodeId) throw new RangeError(`invalid peer id ${id}`);
      parseAddr(addr);
    }
    resolveLimits(options);
    const listener = Deno.listen({
      hostname: options.listen?.hostname ?? "127.0.0.1",
      port: options.listen?.port ?? 0,
      transport: "tcp",
    });
    const transport = new PeerTransport(key, listener, options);
    transport.#track(transport.#acceptLoop());
    for (const [id, addr] of peers) transport.setPeer(id, addr);
    transport.#log.info("peer transport listening", { node: transport.nodeId, ...transport.addr });
    return transport;
  }

  /** The address the listener is bound to (its real port when started with port 0). */
  get addr(): { hostname: string; port: number } {
    const addr = this.#listener.addr as Deno.NetAddr;
    return { hostname: addr.hostname, port: addr.port };
  }

  /**
   * Adds a peer or changes its address. When this node dials that peer, a changed address
   * drops the current connection, which is redialed at the new address.
   * Throws RangeError on an invalid id or address.
   */
  setPeer(id: NodeId, addr: string): void {
    if (!isNodeId(id) || id === this.nodeId) throw new RangeError(`invalid peer id ${id}`);
    parseAddr(addr);
    if (this.#closed) return;
    const existing = this.#links.get(id);
    if (existing) {
      if (existing.addr === addr) return;
      existing.addr = addr;
      if (existing.dials) existing.fc?.close();
      return;
    }
    const link: Link = {
      id,
      addr,
      dials: this.nodeId < id,
      queue: [],
      fc: null,
      writing: false,
      flushScheduled: false,
      dialing: false,
      attempt: 0,
      reconnectTimer: undefined,
      delayed: [],
      delayTimer: undefined,
      stats: emptyPeerStats(),
      failing: false,
    };
    this.#links.set(id, link);
    if (link.dials) this.#dial(link);
  }

  /** Forgets a peer: closes its connection, drops its queue. Unknown ids are ignored. */
  removePeer(id: NodeId): void {
    const link = this.#links.get(id);
    if (!link) return;
    this.#links.delete(id);
    this.#stopLink(link);
  }

  /** Ids of the known peers. */
  peers(): NodeId[] {
    return [...this.#links.keys()];
  }

  /** True when a handshaken connection to `peer` is up. */
  isConnected(peer: NodeId): boolean {
    return this.#links.get(peer)?.fc != null;
  }

  /**
   * Queues `envelope` for `to` without blocking; it leaves in the next flush, in order with
   * everything else sent to `to`. Returns false when `to` is not a known peer or the
   * transport is closed, and with `connectedOnly` also when no connection to `to` is up (so
   * the envelope is not held to be delivered whenever one is). A full queue drops its oldest
   * envelope (counted in queueDrops). Throws RangeError for an invalid group id.
   */
  send(to: NodeId, envelope: Envelope, options: { connectedOnly?: boolean } = {}): boolean {
    if (!isGroupId(envelope.groupId)) throw new RangeError(`invalid groupId ${envelope.groupId}`);
    const link = this.#links.get(to);
    if (!link || this.#closed) return false;
    if (options.connectedOnly === true && link.fc === null) return false;
    this.#submit(link, envelope);
    return true;
  }

  /**
   * Queues several envelopes for `to` in one call (e.g. the heartbeats of every group that
   * shares this peer); they travel in the same frame when they fit in one batch.
   * Returns false when `to` is not a known peer or the transport is closed.
   */
  sendMany(to: NodeId, envelopes: readonly Envelope[]): boolean {
    for (const envelope of envelopes) {
      if (!isGroupId(envelope.groupId)) throw new RangeError(`invalid groupId ${envelope.groupId}`);
    }
    const link = this.#links.get(to);
    if (!link || this.#closed) return false;
    for (const envelope of envelopes) this.#submit(link, envelope);
    return true;
  }

  /** A snapshot of the counters, per peer and in total. */
  stats(): TransportStats {
    const peers: Record<NodeId, PeerStats> = {};
    for (const link of this.#links.values()) {
      peers[link.id] = { ...link.stats, connected: link.fc !== null, queued: link.queue.length };
    }
    return {
      total: sumPeerStats(Object.values(peers)),
      handshakeRejects: this.#handshakeRejects,
      dialFailures: this.#dialFailures,
      peers,
    };
  }

  /** Stops listening, closes every connection and timer, and waits for all of it to end. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#abort.abort();
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const fc of this.#pending) fc.close();
    for (const link of this.#links.values()) this.#stopLink(link);
    this.#closing = this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    // Tasks may spawn short follow-ups (a flush after a read); bounded rounds settle them.
    for (let round = 0; round < 100 && this.#tasks.size > 0; round++) {
      await Promise.allSettled([...this.#tasks]);
    }
    if (this.#tasks.size > 0) throw new Error("peer transport tasks did not settle on close");
    this.#log.info("peer transport closed", { node: this.nodeId });
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task)).catch(() => {});
  }

  #stopLink(link: Link): void {
    clearTimeout(link.reconnectTimer);
    link.reconnectTimer = undefined;
    clearTimeout(link.delayTimer);
    link.delayTimer = undefined;
    link.delayed.length = 0;
    link.queue.length = 0;
    link.fc?.close();
  }

  #submit(link: Link, envelope: Envelope): void {
    const verdict = this.faults.enabled
      ? this.faults.outbound(link.id)
      : { drop: false, delayMs: 0 };
    if (verdict.drop) {
      link.stats.faultDrops++;
      return;
    }
    if (verdict.delayMs > 0 || link.delayed.length > 0) {
      this.#delay(link, envelope, verdict.delayMs);
      return;
    }
    this.#enqueue(link, envelope);
  }

  /**
   * Holds `envelope` for `delayMs` in the peer's delay line: FIFO (a message never
   * overtakes an earlier one, even when the delay shrinks), bounded like the queue, served
   * by one timer.
   */
  #delay(link: Link, envelope: Envelope, delayMs: number): void {
    const last = link.delayed.at(-1)?.dueAtMs ?? 0;
    if (link.delayed.length >= this.#limits.queueEnvelopesMax) {
      link.delayed.shift();
      link.stats.queueDrops++;
    }
    link.delayed.push({ dueAtMs: Math.max(performance.now() + delayMs, last), envelope });
    this.#armDelayTimer(link);
  }

  #armDelayTimer(link: Link): void {
    if (link.delayTimer !== undefined || link.delayed.length === 0) return;
    const waitMs = Math.max(0, link.delayed[0].dueAtMs - performance.now());
    link.delayTimer = setTimeout(() => {
      link.delayTimer = undefined;
      if (this.#closed || this.#links.get(link.id) !== link) return;
      const now = performance.now();
      let due = 0;
      while (due < link.delayed.length && link.delayed[due].dueAtMs <= now) due++;
      for (const { envelope } of link.delayed.splice(0, due)) this.#enqueue(link, envelope);
      this.#armDelayTimer(link);
    }, waitMs);
  }

  #enqueue(link: Link, envelope: Envelope): void {
    if (link.queue.length >= this.#limits.queueEnvelopesMax) {
      link.queue.shift();
      link.stats.queueDrops++;
    }
    link.queue.push(envelope);
    invariant(link.queue.length <= this.#limits.queueEnvelopesMax, "outbound queue over its bound");
    this.#scheduleFlush(link);
  }

  #scheduleFlush(link: Link): void {
    if (link.flushScheduled || link.writing || link.fc === null) return;
    link.flushScheduled = true;
    queueMicrotask(() => {
      link.flushScheduled = false;
      if (!link.writing && link.fc !== null && link.queue.length > 0) {
        this.#track(this.#flush(link, link.fc));
      }
    });
  }

  async #flush(link: Link, fc: FrameConn): Promise<void> {
    invariant(!link.writing, "one writer per connection");
    link.writing = true;
    let unwritten = 0;
    try {
      while (link.queue.length > 0 && link.fc === fc && !this.#closed) {
        const frames = this.#encodeBatch(
          link,
          link.queue.splice(0, this.#limits.batchEnvelopesMax),
        );
        unwritten = frames.reduce((n, f) => n + f.count, 0);
        for (const frame of frames) {
          await this.#write(fc, frame.bytes);
          unwritten -= frame.count;
          link.stats.bytesOut += frame.bytes.byteLength;
          link.stats.framesOut++;
          link.stats.messagesOut += frame.count;
        }
      }
    } catch (error) {
      link.stats.writeDrops += unwritten;
      this.#log.info("peer write failed; closing the connection", { peer: link.id, error });
      fc.close();
    } finally {
      link.writing = false;
    }
    if (link.queue.length > 0) this.#scheduleFlush(link);
  }

  /** Writes one frame; a peer that takes longer than writeTimeoutMs to take it is cut off. */
  async #write(fc: FrameConn, bytes: Uint8Array): Promise<void> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      fc.close();
    }, this.#limits.writeTimeoutMs);
    try {
      await fc.writeAll(bytes);
    } catch (error) {
      if (timedOut) throw new Error(`write took over ${this.#limits.writeTimeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Encodes a batch into frames within the frame limit, halving batches that are too big. */
  #encodeBatch(link: Link, batch: Envelope[]): { bytes: Uint8Array; count: number }[] {
    let bytes: Uint8Array | null = null;
    let failure: unknown = null;
    try {
      bytes = this.#encoder.encodeFrame(batch);
    } catch (error) {
      failure = error;
    }
    if (bytes !== null && bytes.byteLength - frameHeaderBytes <= this.#limits.frameBytesMax) {
      return [{ bytes, count: batch.length }];
    }
    if (batch.length === 1) {
      link.stats.unsendableDrops++;
      this.#log.warn("dropped a message that cannot be sent", {
        peer: link.id,
        groupId: batch[0].groupId,
        reason: failure ?? `encoded size ${bytes?.byteLength} exceeds frame limit`,
      });
      return [];
    }
    const mid = batch.length >> 1;
    return [
      ...this.#encodeBatch(link, batch.slice(0, mid)),
      ...this.#encodeBatch(link, batch.slice(mid)),
    ];
  }

  #dial(link: Link): void {
    if (this.#closed || link.dialing || link.fc !== null || this.#links.get(link.id) !== link) {
      return;
    }
    link.dialing = true;
    this.#track(this.#dialOnce(link).finally(() => link.dialing = false));
  }

  async #dialOnce(link: Link): Promise<void> {
    let fc: FrameConn | null = null;
    try {
      const conn = await Deno.connect({ ...parseAddr(link.addr), signal: this.#abort.signal });
      fc = new FrameConn(conn, { frameBytesMax: handshakeFrameBytesMax });
      if (this.#closed || this.#links.get(link.id) !== link) {
        throw new Error("peer removed or transport closed");
      }
      this.#pending.add(fc);
      await dialHandshake(fc, {
        key: this.#key,
        selfId: this.nodeId,
        peerId: link.id,
        timeoutMs: this.#limits.handshakeTimeoutMs,
      });
      this.#pending.delete(fc);
      if (this.#closed || this.#links.get(link.id) !== link) {
        throw new Error("peer removed or transport closed");
      }
      this.#attach(link, fc);
    } catch (error) {
      if (fc) {
        this.#pending.delete(fc);
        fc.close();
      }
      if (this.#closed || this.#links.get(link.id) !== link) return;
      this.#dialFailures++;
      const fields = {
        peer: link.id,
        addr: link.addr,
        reason: error instanceof HandshakeError ? error.reason : "connect",
        error,
      };
      // One warning per run of failures; the retries that follow log at debug.
      if (link.failing) this.#log.debug("peer dial failed", fields);
      else this.#log.warn("peer dial failed", fields);
      link.failing = true;
      this.#scheduleRedial(link);
    }
  }

  #scheduleRedial(link: Link): void {
    if (this.#closed || !link.dials || this.#links.get(link.id) !== link) return;
    if (link.reconnectTimer !== undefined) return;
    const delayMs = backoffDelayMs(link.attempt, {
      delayMsMin: this.#limits.reconnectDelayMsMin,
      delayMsMax: this.#limits.reconnectDelayMsMax,
      random: this.#random,
    });
    link.attempt = Math.min(link.attempt + 1, 64);
    link.reconnectTimer = setTimeout(() => {
      link.reconnectTimer = undefined;
      this.#dial(link);
    }, delayMs);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (!this.#closed) this.#log.error("peer listener failed", { error });
        return;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      const remote = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
      if (this.#pending.size >= this.#limits.pendingHandshakesMax) {
        this.#handshakeRejects++;
        this.#log.warn("peer connection rejected", { remote, reason: "too-many-pending" });
        conn.close();
        continue;
      }
      this.#track(this.#accept(conn, remote));
    }
  }

  async #accept(conn: Deno.TcpConn, remote: string): Promise<void> {
    const fc = new FrameConn(conn, { frameBytesMax: handshakeFrameBytesMax });
    this.#pending.add(fc);
    let peer: NodeId;
    try {
      peer = await acceptHandshake(fc, {
        key: this.#key,
        selfId: this.nodeId,
        timeoutMs: this.#limits.handshakeTimeoutMs,
        isAllowedPeer: (id) => this.#links.get(id)?.dials === false,
      });
    } catch (error) {
      fc.close();
      if (this.#closed) return;
      this.#handshakeRejects++;
      const reason = error instanceof HandshakeError ? error.reason : "error";
      this.#log.warn("peer connection rejected", { remote, reason, error });
      return;
    } finally {
      this.#pending.delete(fc);
    }
    const link = this.#links.get(peer);
    if (this.#closed || !link) {
      fc.close();
      return;
    }
    // A new connection from a peer replaces the old one (the peer restarted or redialed).
    const old = link.fc;
    this.#attach(link, fc);
    old?.close();
  }

  #attach(link: Link, fc: FrameConn): void {
    invariant(this.#links.get(link.id) === link, "attaching to a forgotten peer");
    invariant(link.fc !== fc, "attaching a connection twice");
    if (link.fc !== null) link.fc.close();
    fc.frameBytesMax = this.#limits.frameBytesMax;
    fc.onBytesRead = (n) => link.stats.bytesIn += n;
    link.fc = fc;
    link.attempt = 0;
    link.stats.connects++;
    if (link.stats.connects > 1) link.stats.reconnects++;
    const wasFailing = link.failing;
    link.failing = false;
    this.#log.info("peer connected", {
      peer: link.id,
      addr: link.addr,
      after: wasFailing ? "failures" : undefined,
    });
    try {
      (fc.conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // The socket already failed; the read loop notices and detaches.
    }
    this.#onPeerState?.(link.id, true);
    this.#track(this.#readLoop(link, fc));
    this.#scheduleFlush(link);
  }

  async #readLoop(link: Link, fc: FrameConn): Promise<void> {
    try {
      for (let body = await fc.readFrame(); body !== null; body = await fc.readFrame()) {
        if (link.fc !== fc) break;
        link.stats.framesIn++;
        this.#deliver(link, this.#decoder.decode(body));
      }
    } catch (error) {
      if (error instanceof FrameError) {
        this.#log.warn("peer sent a malformed frame; closing its connection", {
          peer: link.id,
          error,
        });
      } else if (!fc.closed) {
        this.#log.debug("peer connection failed", { peer: link.id, error });
      }
    } finally {
      fc.close();
      this.#detach(link, fc);
    }
  }

  #deliver(link: Link, envelopes: Envelope[]): void {
    const faults = this.faults.enabled;
    for (const envelope of envelopes) {
      if (faults && this.faults.dropInbound(link.id)) {
        link.stats.faultDrops++;
        continue;
      }
      link.stats.messagesIn++;
      try {
        this.#onMessage(link.id, envelope);
      } catch (error) {
        this.#log.error("message handler threw", {
          peer: link.id,
          groupId: envelope.groupId,
          error,
        });
      }
    }
  }

  #detach(link: Link, fc: FrameConn): void {
    if (link.fc !== fc) return;
    link.fc = null;
    if (!this.#closed) this.#log.info("peer disconnected", { peer: link.id });
    this.#onPeerState?.(link.id, false);
    if (link.dials) this.#scheduleRedial(link);
  }
}
