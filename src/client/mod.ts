/**
 * The ringkv client: a typed, fetch-based HTTP client that runs in Deno, Node and browsers.
 *
 * ```ts
 * const kv = new RingkvClient({ url: ["http://127.0.0.1:7070"], token: "secret" });
 * const { version } = await kv.put("greeting", "hello");
 * await kv.put("greeting", "hi", { ifMatch: version }); // compare-and-set
 * for await (const item of kv.scan({ prefix: "greet" })) console.info(item.key);
 * ```
 */
export {
  type BatchOp,
  type BatchResult,
  type ClientOptions,
  defaultUrl,
  type DeleteOptions,
  type DeleteResult,
  type GetOptions,
  type ListItem,
  type ListOptions,
  type ListPage,
  type NodeStatus,
  type PutOptions,
  type PutResult,
  type ReadConsistency,
  type ReadFreshness,
  type RequestOptions,
  RingkvClient,
  type ScanOptions,
  type VersionedText,
  type VersionedValue,
} from "./client.ts";
export {
  ConditionFailedError,
  ConnectionError,
  HttpError,
  type Problem,
  RingkvError,
  TimeoutError,
} from "./errors.ts";
export { type BytesLike, decodeUtf8, fromBase64, toBase64, toBytes } from "./bytes.ts";
export type { ClusterMember, ClusterView, LeaderTransfer, MemberChange } from "./cluster.ts";
export { type RetryPolicy, saysOutcomeUnknown } from "./requester.ts";
