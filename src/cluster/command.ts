/**
 * The commands a replicated group's log carries and what applying one yields. A command is
 * encoded in a normal Raft entry: an unconditional put or delete (most writes) in a compact
 * binary form, anything else as MessagePack; every replica applies it to its store with
 * seq = the entry's index, so a key's version is the Raft index that wrote it. Applying is
 * deterministic: the same command on the same state gives the same result on every replica.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import type { BatchOp, Store, WriteCondition } from "../storage/types.ts";
import type { Bytes, KvBatchOp, KvCondition, Version } from "./kv_service.ts";

/** A write the log carries. */
export type KvCommand =
  | { op: "put"; key: Bytes; value: Bytes; condition?: KvCondition }
  | { op: "delete"; key: Bytes; condition?: KvCondition }
  | { op: "batch"; ops: KvBatchOp[] };

/**
 * What applying a command gave. A failed condition (or a key or size the store refuses) is a
 * result, the same on every replica, not a failure of the log.
 */
export type ApplyResult =
  | { ok: true; version?: Version; created?: boolean }
  | { ok: false; code: string; message: string; opIndex?: number; currentSeq?: number };

/** Store error codes that depend only on the command and the state: every replica agrees. */
const deterministicCodes = new Set([
  "key_invalid",
  "value_too_large",
  "batch_too_large",
  "condition_failed",
]);

/** Largest encoded command accepted by decodeCommand. */
export const commandBytesMax = 128 * 1024 * 1024;

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({ maxBinLength: commandBytesMax, maxStrLength: 1024 });

/**
 * First byte of the compact forms. MessagePack encodes a command (a map) with a first byte of
 * 0x80 or above, so these small values cannot be mistaken for one.
 */
const compactPut = 0x01;
const compactDelete = 0x02;
/** Compact form: tag (1 byte), key length (u32, big-endian), key, then a put's value. */
const compactHeaderBytes = 5;

function encodeCompact(tag: number, key: Bytes, value?: Bytes): Uint8Array {
  const out = new Uint8Array(compactHeaderBytes + key.byteLength + (value?.byteLength ?? 0));
  out[0] = tag;
  new DataView(out.buffer).setUint32(1, key.byteLength);
  out.set(key, compactHeaderBytes);
  if (value !== undefined) out.set(value, compactHeaderBytes + key.byteLength);
  return out;
}

function decodeCompact(data: Uint8Array): KvCommand {
  if (data.byteLength < compactHeaderBytes) throw new TypeError("truncated compact command");
  const keyBytes = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  const keyEnd = compactHeaderBytes + keyBytes;
  if (keyEnd > data.byteLength) throw new TypeError("compact command: key runs past its end");
  const key = data.subarray(compactHeaderBytes, keyEnd);
  if (data[0] === compactPut) return { op: "put", key, value: data.subarray(keyEnd) };
  if (keyEnd !== data.byteLength) throw new TypeError("compact delete with trailing bytes");
  return { op: "delete", key };
}

/** The bytes of a command in an entry. */
export function encodeCommand(command: KvCommand): Uint8Array {
  if (command.op !== "batch" && command.condition === undefined) {
    return command.op === "put"
      ? encodeCompact(compactPut, command.key, command.value)
      : encodeCompact(compactDelete, command.key);
  }
  return encoder.encode(command);
}

/**
 * Decodes an entry's data; throws TypeError when it is not a command (a corrupt log). A
 * compact command's key and value are views of `data`.
 */
export function decodeCommand(data: Uint8Array): KvCommand {
  if (data[0] === compactPut || data[0] === compactDelete) return decodeCompact(data);
  const value = decoder.decode(data) as { op?: unknown };
  if (typeof value !== "object" || value === null) throw new TypeError("entry is not a command");
  if (value.op === "put" || value.op === "delete" || value.op === "batch") {
    return value as KvCommand;
  }
  throw new TypeError(`entry holds an unknown command ${JSON.stringify(value.op)}`);
}

function toStoreCondition(condition: KvCondition | undefined): WriteCondition | undefined {
  if (condition === undefined) return undefined;
  if ("version" in condition) return { seq: condition.version };
  if ("absent" in condition) return { absent: true };
  return { present: true };
}

function codeOf(error: unknown): string | undefined {
  const code = typeof error === "object" && error !== null
    ? (error as { code?: unknown }).code
    : undefined;
  return typeof code === "string" ? code : undefined;
}

/**
 * Applies `command` to `store` as entry `index`. Resolves to the result; rejects only for a
 * failure that is not deterministic (I/O error, disk full, closed store): the caller must
 * stop applying, since replicas would otherwise diverge.
 */
export async function applyCommand(
  store: Store,
  entry: { index: number; command: KvCommand },
): Promise<ApplyResult> {
  const { index, command } = entry;
  try {
    return await applyUnchecked(store, index, command);
  } catch (error) {
    const code = codeOf(error);
    if (code === undefined || !deterministicCodes.has(code)) throw error;
    if (command.op === "delete" && command.condition === undefined && code === "condition_failed") {
      return { ok: true }; // deleting a missing key: nothing written, no version
    }
    const e = error as { message: string; opIndex?: number; currentSeq?: number };
    return { ok: false, code, message: e.message, opIndex: e.opIndex, currentSeq: e.currentSeq };
  }
}

async function applyUnchecked(
  store: Store,
  index: number,
  command: KvCommand,
): Promise<ApplyResult> {
  switch (command.op) {
    case "put": {
      const r = await store.put(command.key, command.value, {
        if: toStoreCondition(command.condition),
        seq: index,
      });
      return { ok: true, version: r.seq, created: !r.existed };
    }
    case "delete": {
      // Without a condition, require presence so a missing key writes no tombstone.
      const r = await store.delete(command.key, {
        if: toStoreCondition(command.condition) ?? { present: true },
        seq: index,
      });
      return { ok: true, version: r.seq };
    }
    case "batch": {
      const ops: BatchOp[] = command.ops.map((op) =>
        op.type === "put"
          ? { type: "put", key: op.key, value: op.value, if: toStoreCondition(op.condition) }
          : { type: "delete", key: op.key, if: toStoreCondition(op.condition) }
      );
      const r = await store.batch(ops, { seq: index });
      return { ok: true, version: r.seq };
    }
  }
}
