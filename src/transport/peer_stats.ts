/** Counters of the peer transport, read through getters (no metrics library here). */
import type { NodeId } from "./codec.ts";

/** Counters for one peer. Bytes count framing and handshake bytes on the socket. */
export interface PeerStats {
  /** Bytes read from this peer's connections after their handshake. */
  bytesIn: number;
  /** Bytes written to this peer's connections after their handshake. */
  bytesOut: number;
  /** Frames (batches) received. */
  framesIn: number;
  /** Frames (batches) sent. */
  framesOut: number;
  /** Envelopes delivered to onMessage. */
  messagesIn: number;
  /** Envelopes written to the socket. */
  messagesOut: number;
  /** Envelopes dropped because the outbound queue was full (oldest first). */
  queueDrops: number;
  /** Envelopes dropped by fault injection, both directions. */
  faultDrops: number;
  /** Envelopes dropped because they could not be encoded within the frame limit. */
  unsendableDrops: number;
  /** Envelopes lost because the connection failed while they were being written. */
  writeDrops: number;
  /** Connections established (handshake done), first one included. */
  connects: number;
  /** Connections established after the first one. */
  reconnects: number;
  /** Whether a connection is up right now. */
  connected: boolean;
  /** Envelopes waiting in the outbound queue right now. */
  queued: number;
}

/** Counters for the whole transport: the sum over peers plus listener-level ones. */
export interface TransportStats {
  /** Sums over all peers (connected: any peer connected; queued: total). */
  total: Omit<PeerStats, "connected">;
  /** Inbound connections dropped during or before the handshake. */
  handshakeRejects: number;
  /** Outbound dials that failed (connect refused, handshake failed). */
  dialFailures: number;
  /** Per-peer counters. */
  peers: Record<NodeId, PeerStats>;
}

/** Returns a zeroed PeerStats. */
export function emptyPeerStats(): PeerStats {
  return {
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    queueDrops: 0,
    faultDrops: 0,
    unsendableDrops: 0,
    writeDrops: 0,
    connects: 0,
    reconnects: 0,
    connected: false,
    queued: 0,
  };
}

/** Adds the counters of `peers` into one total. */
export function sumPeerStats(peers: PeerStats[]): Omit<PeerStats, "connected"> {
  const { connected: _connected, ...total } = emptyPeerStats();
  for (const p of peers) {
    for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += p[key];
  }
  return total;
}
