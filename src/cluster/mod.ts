/** The cluster layer's public face: the KvService interface, its replicated service and host. */
export * from "./kv_service.ts";
export { compareBytes, prefixEnd } from "./key_range.ts";
export { ApplyError, ReplicatedKvService } from "./replicated_service.ts";
export { openReplicatedService, readClusterSecret } from "./replicated_node.ts";
export { defaultGroupId, RaftHost } from "./raft_host.ts";
export type { RaftHostOptions, RaftTiming } from "./raft_host.ts";
export {
  type ClusterAdmin,
  type ClusterView,
  type LeaderTransfer,
  type MemberChange,
  type MemberRequest,
  Membership,
  MembershipError,
  type MembershipGroup,
  type MembershipHost,
  type MemberView,
} from "./membership.ts";
