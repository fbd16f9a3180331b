/**
 * ringkv's peer transport: authenticated, batched, self-healing TCP links between nodes,
 * carrying opaque per-group messages, with fault injection for tests.
 *
 * ```ts
 * const t = await PeerTransport.start({
 *   nodeId: "n1",
 *   secret,
 *   peers: { n2: "127.0.0.1:7171" },
 *   onMessage: (from, { groupId, message }) => host.step(groupId, from, message),
 * });
 * t.send("n2", { groupId: 0, message });
 * await t.close();
 * ```
 * @module
 */
export { PeerTransport } from "./peer_transport.ts";
export type { MessageHandler, PeerTransportOptions } from "./peer_transport.ts";
export type { PeerStats, TransportStats } from "./peer_stats.ts";
export { backoffDelayMs } from "./backoff.ts";
export type { BackoffOptions } from "./backoff.ts";
export { BatchDecoder, BatchEncoder, batchEnvelopesMax, isGroupId } from "./codec.ts";
export type { BatchDecoderOptions, Envelope, NodeId } from "./codec.ts";
export {
  encodeFrame,
  frameBytesMaxCeiling,
  frameBytesMaxDefault,
  FrameDecoder,
  FrameError,
  frameHeaderBytes,
} from "./framing.ts";
export type { EncodeFrameOptions, FrameDecoderOptions } from "./framing.ts";
export { FrameConn } from "./frame_conn.ts";
export type { FrameConnOptions } from "./frame_conn.ts";
export {
  acceptHandshake,
  dialHandshake,
  HandshakeError,
  handshakeFrameBytesMax,
  handshakeTimeoutMsDefault,
  importClusterKey,
  isNodeId,
  nodeIdLengthMax,
  protocolVersion,
  secretBytesMin,
} from "./handshake.ts";
export type { HandshakeFailure, HandshakeOptions } from "./handshake.ts";
export {
  faultDelayMsMax,
  faultFsyncDelayMsMax,
  FaultInjector,
  faultPeersMax,
  FaultSpecError,
  parseFaultSpec,
} from "./fault_injection.ts";
export type { FaultInjectorOptions, FaultSpec, OutboundVerdict } from "./fault_injection.ts";
