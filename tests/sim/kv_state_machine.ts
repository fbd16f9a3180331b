/**
 * The simulator's state machine: a map of key -> {value, version} where a write's version is
 * the Raft index of the entry that made it (as in ringkv). Commands travel in entries as JSON.
 */

import type { KvOutput } from "./linearizability.ts";

/** A write command carried in a normal entry; `id` is the client operation's unique id. */
export type KvCommand =
  | { id: number; kind: "put"; key: string; value: string }
  | { id: number; kind: "delete"; key: string }
  | {
    id: number;
    kind: "cas";
    key: string;
    value: string;
    expectVersion?: number;
    expectValue?: string;
  }
  | { id: number; kind: "create"; key: string; value: string };

/** One stored value and its version. */
export interface Versioned {
  value: string;
  version: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a command as entry data. */
export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** Decodes entry data written by encodeCommand; throws on anything else. */
export function decodeCommand(data: Uint8Array): KvCommand {
  const c = JSON.parse(decoder.decode(data));
  if (typeof c?.id !== "number" || typeof c?.key !== "string") {
    throw new Error("entry data is not a KvCommand");
  }
  return c as KvCommand;
}

/** The key-value map one simulated node applies committed entries to. */
export class KvStateMachine {
  #data = new Map<string, Versioned>();
  /** Index of the last entry applied (or of the snapshot restored). */
  applied = 0;

  /** Restores a state machine from snapshot bytes taken at `index` (empty bytes: empty map). */
  static restore(data: Uint8Array, index: number): KvStateMachine {
    const sm = new KvStateMachine();
    sm.applied = index;
    if (data.byteLength > 0) {
      const pairs = JSON.parse(decoder.decode(data)) as [string, Versioned][];
      for (const [k, v] of pairs) sm.#data.set(k, v);
    }
    return sm;
  }

  /** The serialized map, for a snapshot at `applied`. */
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.#data.entries()]));
  }

  /** The current value of `key`, or undefined when absent. */
  get(key: string): Versioned | undefined {
    return this.#data.get(key);
  }

  /** Records that entry `index` (not a command: no-op or membership) was applied. */
  skip(index: number): void {
    if (index !== this.applied + 1) throw new Error(`apply gap: ${this.applied} then ${index}`);
    this.applied = index;
  }

  /** Applies a command at `index` (which must follow the last applied one) and returns its result. */
  apply(index: number, c: KvCommand): KvOutput {
    this.skip(index);
    const current = this.#data.get(c.key);
    switch (c.kind) {
      case "put":
        this.#data.set(c.key, { value: c.value, version: index });
        return { kind: "put", version: index };
      case "delete":
        this.#data.delete(c.key);
        return { kind: "delete", existed: current !== undefined };
      case "cas": {
        const ok = current !== undefined &&
          (c.expectVersion !== undefined
            ? current.version === c.expectVersion
            : current.value === c.expectValue);
        if (!ok) return { kind: "cas", ok: false };
        this.#data.set(c.key, { value: c.value, version: index });
        return { kind: "cas", ok: true, version: index };
      }
      case "create":
        if (current !== undefined) return { kind: "create", ok: false };
        this.#data.set(c.key, { value: c.value, version: index });
        return { kind: "create", ok: true, version: index };
    }
  }
}
