/** The cluster layer's public face: the KvService interface and its implementations. */
export * from "./kv_service.ts";
export { LocalKvService } from "./local_service.ts";
export { compareBytes, prefixEnd } from "./key_range.ts";
