/**
 * Fault injection for tests of a cluster: drop, delay or cut peer traffic at run time, and
 * slow down fsyncs. Inert unless enabled; the configuration is plain JSON so an admin route
 * can read and replace it as is.
 */
import type { NodeId } from "./codec.ts";
import { seededRandom } from "../seeded_random.ts";

/**
 * The JSON shape of a fault configuration, e.g.
 * `{ "drop": { "n2": 0.3 }, "delayMs": { "n3": 50 }, "cut": ["n4"], "fsyncDelayMs": 100 }`:
 * - `drop`: probability (0..1) that each message to or from that peer is dropped;
 * - `delayMs`: extra delay (0..60000 ms) before each message to that peer is sent;
 * - `cut`: peers whose traffic is dropped entirely, both directions;
 * - `cutTo`: peers that messages from this node never reach (one way: theirs still arrive);
 * - `cutFrom`: peers whose messages this node drops on arrival (one way: ours still leave);
 * - `fsyncDelayMs`: delay (0..10000 ms) added before every fsync of this node's WAL and stores.
 */
export interface FaultSpec {
  /** Drop probability per peer, both directions. */
  drop?: Record<NodeId, number>;
  /** Added send delay per peer, in milliseconds. */
  delayMs?: Record<NodeId, number>;
  /** Peers cut off entirely. */
  cut?: NodeId[];
  /** Peers this node's messages never reach. */
  cutTo?: NodeId[];
  /** Peers whose messages this node drops. */
  cutFrom?: NodeId[];
  /** Delay before every fsync, in milliseconds (0: none). */
  fsyncDelayMs?: number;
}

/** Longest delay a spec may ask for. */
export const faultDelayMsMax = 60_000;

/** Longest fsync delay a spec may ask for. */
export const faultFsyncDelayMsMax = 10_000;

const specFields = new Set(["drop", "delayMs", "cut", "cutTo", "cutFrom", "fsyncDelayMs"]);

/** Most peers a spec may name in one field. */
export const faultPeersMax = 1_024;

/** Options of {@link FaultInjector}. */
export interface FaultInjectorOptions {
  /** Whether faults may be configured at all. Default false: every call is a no-op. */
  enabled?: boolean;
  /** Seed of the drop decisions, for reproducible runs. Default: random. */
  seed?: number;
}

/** What to do with one outbound message. */
export interface OutboundVerdict {
  /** Drop the message. */
  drop: boolean;
  /** Delay it this long before queueing it (0: send now). */
  delayMs: number;
}

/** Thrown by {@link FaultInjector.configure} for a spec that is not valid. */
export class FaultSpecError extends Error {
  /** Creates an error naming the invalid field. */
  constructor(message: string) {
    super(message);
    this.name = "FaultSpecError";
  }
}

function checkPeerMap(
  field: string,
  value: unknown,
  valueOk: (v: unknown) => boolean,
): Record<NodeId, number> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FaultSpecError(`${field} must be an object of peer -> number`);
  }
  const entries = Object.entries(value);
  if (entries.length > faultPeersMax) throw new FaultSpecError(`${field} names too many peers`);
  const out: Record<NodeId, number> = {};
  for (const [peer, v] of entries) {
    if (!valueOk(v)) throw new FaultSpecError(`${field}.${peer} is out of range`);
    out[peer] = v as number;
  }
  return out;
}

function checkPeerList(field: string, value: unknown): NodeId[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) || value.length > faultPeersMax ||
    value.some((p) => typeof p !== "string")
  ) {
    throw new FaultSpecError(`${field} must be an array of peer ids`);
  }
  return [...value];
}

/** Validates and copies a spec from untrusted JSON. Throws FaultSpecError. */
export function parseFaultSpec(value: unknown): FaultSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FaultSpecError("fault spec must be an object");
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!specFields.has(key)) {
      throw new FaultSpecError(
        `unknown fault spec field ${key}; known: ${[...specFields].join(", ")}`,
      );
    }
  }
  const isProbability = (v: unknown) => typeof v === "number" && v >= 0 && v <= 1;
  const isDelay = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= faultDelayMsMax;
  const fsyncDelayMs = raw.fsyncDelayMs === undefined ? 0 : raw.fsyncDelayMs;
  if (
    typeof fsyncDelayMs !== "number" || !Number.isInteger(fsyncDelayMs) || fsyncDelayMs < 0 ||
    fsyncDelayMs > faultFsyncDelayMsMax
  ) {
    throw new FaultSpecError(`fsyncDelayMs must be an integer in 0..${faultFsyncDelayMsMax}`);
  }
  return {
    drop: checkPeerMap("drop", raw.drop, isProbability),
    delayMs: checkPeerMap("delayMs", raw.delayMs, isDelay),
    cut: checkPeerList("cut", raw.cut),
    cutTo: checkPeerList("cutTo", raw.cutTo),
    cutFrom: checkPeerList("cutFrom", raw.cutFrom),
    fsyncDelayMs,
  };
}

/** Decides, per message, whether peer traffic is dropped or delayed. */
export class FaultInjector {
  /** Whether faults can be configured; fixed at construction. */
  readonly enabled: boolean;
  /** Seed of the drop decisions. */
  readonly seed: number;
  #random: () => number;
  #drop = new Map<NodeId, number>();
  #delayMs = new Map<NodeId, number>();
  #cut = new Set<NodeId>();
  #cutTo = new Set<NodeId>();
  #cutFrom = new Set<NodeId>();
  #fsyncDelayMs = 0;

  /** Creates an injector with no faults configured. */
  constructor(options: FaultInjectorOptions = {}) {
    this.enabled = options.enabled ?? false;
    this.seed = options.seed ?? (crypto.getRandomValues(new Uint32Array(1))[0]);
    this.#random = seededRandom(this.seed);
  }

  /**
   * Replaces the whole configuration with `spec` (validated as untrusted input).
   * Throws FaultSpecError for an invalid spec, or Error when the injector is disabled.
   */
  configure(spec: unknown): void {
    if (!this.enabled) throw new Error("fault injection is disabled");
    const parsed = parseFaultSpec(spec);
    this.#drop = new Map(Object.entries(parsed.drop ?? {}));
    this.#delayMs = new Map(Object.entries(parsed.delayMs ?? {}));
    this.#cut = new Set(parsed.cut);
    this.#cutTo = new Set(parsed.cutTo);
    this.#cutFrom = new Set(parsed.cutFrom);
    this.#fsyncDelayMs = parsed.fsyncDelayMs ?? 0;
  }

  /** Removes every fault (heals all peers, fsyncs at full speed). */
  reset(): void {
    this.#drop.clear();
    this.#delayMs.clear();
    this.#cut.clear();
    this.#cutTo.clear();
    this.#cutFrom.clear();
    this.#fsyncDelayMs = 0;
  }

  /** The configuration in force, in the JSON shape {@link configure} takes. */
  spec(): FaultSpec {
    return {
      drop: Object.fromEntries(this.#drop),
      delayMs: Object.fromEntries(this.#delayMs),
      cut: [...this.#cut],
      cutTo: [...this.#cutTo],
      cutFrom: [...this.#cutFrom],
      fsyncDelayMs: this.#fsyncDelayMs,
    };
  }

  /** True when some fault is configured. */
  get active(): boolean {
    return this.#drop.size > 0 || this.#delayMs.size > 0 || this.#cut.size > 0 ||
      this.#cutTo.size > 0 || this.#cutFrom.size > 0 || this.#fsyncDelayMs > 0;
  }

  /**
   * The hook to await before an fsync: a promise that resolves after `fsyncDelayMs`, or
   * undefined (nothing to wait for) when no delay is configured or the injector is disabled.
   */
  beforeSync(): Promise<void> | undefined {
    const delayMs = this.#fsyncDelayMs;
    if (!this.enabled || delayMs === 0) return undefined;
    return new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  /** Verdict for one message about to be sent to `peer`. */
  outbound(peer: NodeId): OutboundVerdict {
    if (this.#cut.has(peer) || this.#cutTo.has(peer)) return { drop: true, delayMs: 0 };
    if (this.#dropped(peer)) return { drop: true, delayMs: 0 };
    return { drop: false, delayMs: this.#delayMs.get(peer) ?? 0 };
  }

  /** True when one message received from `peer` must be dropped. */
  dropInbound(peer: NodeId): boolean {
    return this.#cut.has(peer) || this.#cutFrom.has(peer) || this.#dropped(peer);
  }

  #dropped(peer: NodeId): boolean {
    const p = this.#drop.get(peer);
    if (p === undefined || p === 0) return false;
    return p >= 1 || this.#random() < p;
  }
}
