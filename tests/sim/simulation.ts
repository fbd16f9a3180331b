/**
 * One deterministic simulation run: a cluster of real Raft cores on a simulated clock and
 * network, a fault injector (the nemesis), a client workload, and the checks. Everything is
 * drawn from one seed, so one seed reproduces one run exactly.
 */

import type { Entry, Message, RaftKnobs } from "../../src/raft/mod.ts";
import { EventQueue } from "./event_queue.ts";
import { SafetyMonitor, type Violation } from "./invariants.ts";
import {
  checkHistory,
  checkStaleReads,
  formatOperation,
  type Operation,
  type StaleRead,
} from "./linearizability.ts";
import { calmNetwork, type NetworkFaults, SimNetwork } from "./network.ts";
import { createRng, type Rng } from "./rng.ts";
import { type NodeEnv, type NodeReply, type RequestEnvelope, SimNode } from "./sim_node.ts";
import { type ClientRequest, nextRequest } from "./workload.ts";
import type { Versioned } from "./kv_state_machine.ts";
import { describeMessage } from "./trace.ts";

/** Options of {@link runSimulation}. */
export interface SimOptions {
  seed: number;
  /** Planted core bugs to enable (tests only). */
  knobs?: Partial<RaftKnobs>;
  /** Planted host bug: send messages before persisting what they depend on. */
  sendBeforePersist?: boolean;
  /** Handle Readys in the production group host's order (see NodeEnv.groupHostOrder). */
  groupHostOrder?: boolean;
  /** Calls `log` with every trace line as it happens. */
  verbose?: boolean;
  /** Where verbose lines go. Default: nowhere. */
  log?: (line: string) => void;
  /** Simulated time with faults. Default 3000 ms. */
  faultPhaseMs?: number;
  /** Keeps every trace line in [fromMs, toMs] (at most 400) in SimResult.window. */
  window?: { fromMs: number; toMs: number };
  /** Trace lines kept for a failure report. Default 200. */
  traceLines?: number;
}

/** What one run found. */
export interface SimResult {
  seed: number;
  violations: Violation[];
  /** The last trace lines before the first violation (empty when none). */
  trace: string[];
  /** Trace lines inside options.window, when one was given. */
  window: string[];
  stats: SimStats;
}

/** Counts of one run, for reports. */
export interface SimStats {
  simulatedMs: number;
  operations: number;
  acknowledged: number;
  unknown: number;
  messages: number;
  crashes: number;
  leaderChanges: number;
  snapshotsSent: number;
  confChanges: number;
  /** Keys whose linearizability check ran out of budget (neither proven nor refuted). */
  uncheckedKeys: number;
}

type Event =
  | { type: "tick"; node: SimNode; life: number }
  | { type: "message"; message: Message }
  | { type: "persisted"; done: () => void }
  | { type: "request"; nodeId: string; envelope: RequestEnvelope }
  | { type: "reply"; clientId: number; opId: number; reply: NodeReply }
  | { type: "client-wake"; clientId: number; opId: number }
  | { type: "nemesis" }
  | { type: "heal" }
  | { type: "restart"; node: SimNode }
  | { type: "shutdown"; node: SimNode }
  | { type: "bounce"; node: SimNode; life: number; downMs: number };

/** One trace line, rendered only when shown: messages are kept as they are. */
interface TraceItem {
  ms: number;
  line: string | Message;
  lost: boolean;
}

function renderTrace(item: TraceItem): string {
  const text = typeof item.line === "string" ? item.line : describeMessage(item.line);
  return `${String(item.ms).padStart(6)}ms ${text}${item.lost ? " (lost)" : ""}`;
}

type NemesisAction =
  | "partition"
  | "isolate-leader"
  | "one-way"
  | "heal"
  | "crash"
  | "restart"
  | "power-failure"
  | "conf"
  | "transfer"
  | "faults";

interface PendingOp {
  opId: number;
  request: ClientRequest;
  callStamp: number;
  callMs: number;
  deadlineMs: number;
  target: string;
}

interface Client {
  id: number;
  rng: Rng;
  op: PendingOp | null;
  serial: number;
  seen: Map<string, Versioned | null>;
  target: string;
}

const tickMs = 10;
const opTimeoutMs = 500;
const readAttemptMs = 120;
const settleMs = 2000;
const drainMs = opTimeoutMs + 100;
const eventsMax = 5_000_000;

/** Runs one seed to the end and returns its violations (none on a correct system). */
export function runSimulation(options: SimOptions): SimResult {
  return new World(options).run();
}

class World {
  readonly opts: SimOptions;
  readonly rng: Rng;
  readonly queue = new EventQueue<Event>();
  readonly monitor: SafetyMonitor;
  readonly network: SimNetwork;
  readonly nodes = new Map<string, SimNode>();
  readonly removed = new Set<string>();
  readonly clients: Client[] = [];
  readonly history: Operation[] = [];
  readonly historyMeta: { opId: number; callMs: number; returnMs: number; nodeId: string }[] = [];
  /** Client operations some node applied: the others never took effect. */
  readonly appliedOps = new Set<number>();
  readonly staleReads: StaleRead[] = [];
  readonly stats: SimStats = {
    simulatedMs: 0,
    operations: 0,
    acknowledged: 0,
    unknown: 0,
    messages: 0,
    crashes: 0,
    leaderChanges: 0,
    snapshotsSent: 0,
    confChanges: 0,
    uncheckedKeys: 0,
  };
  now = 0;
  /** Until then the nemesis leaves the network's cuts as they are. */
  networkHoldUntilMs = 0;
  stamp = 0;
  nextOpId = 1;
  nextNodeNumber = 1;
  ring: TraceItem[] = [];
  windowLines: string[] = [];
  ringAt = 0;
  frozenTrace: string[] | null = null;
  readonly faultEndMs: number;
  readonly clientsStopMs: number;
  readonly endMs: number;
  readonly fsyncMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotKeepEntries: number;
  readonly nemesisGapMs: number;
  readonly maxSizePerMsg: number;
  readonly maxEntriesPerAppend: number;
  readonly maxInflightMsgs: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Lease reads are correct only while ticks last alike everywhere: no drift then. */
  readonly readOnlyOption: "safe" | "lease-based";
  /** Tick period of each node: with safe reads, clocks drift apart by up to 20%. */
  readonly tickPeriodMs = new Map<string, number>();
  readonly clockDrift: boolean;
  readonly crashWeight: number;
  readonly partitionWeight: number;
  readonly confWeight: number;
  readonly maxVoters: number;
  /** Probability that a node crashes right after acknowledging entries. */
  readonly bounceRate: number;
  /** Probability that a node crashes right after granting a vote. */
  readonly voteBounceRate: number;
  /** Probability that a node is isolated or crashed as soon as it becomes leader. */
  readonly leaderFaultRate: number;
  /** Probability that a leader is isolated or crashed right after it applied entries. */
  readonly commitFaultRate: number;
  raftSeedBase: number;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rng = createRng(opts.seed);
    const r = this.rng;
    this.monitor = new SafetyMonitor(() => this.now);
    this.network = new SimNetwork(createRng(r.u32()), this.drawFaults(r));
    this.faultEndMs = opts.faultPhaseMs ?? 3000;
    this.clientsStopMs = this.faultEndMs + settleMs;
    this.endMs = this.clientsStopMs + drainMs + 1500;
    const disk = r.int(10);
    this.fsyncMaxMs = disk < 3 ? r.int(2) : disk < 8 ? r.int(5) : 5 + r.int(15);
    this.snapshotEveryEntries = 5 + r.int(40);
    this.snapshotKeepEntries = r.int(8);
    this.nemesisGapMs = r.chance(0.3) ? 10 + r.int(40) : 40 + r.int(260);
    this.maxSizePerMsg = r.pick([64, 128, 256, 512, 4096]);
    this.maxEntriesPerAppend = r.pick([1, 1, 2, 4, 64]);
    this.maxInflightMsgs = r.pick([1, 1, 2, 8, 32]);
    this.preVote = r.chance(0.6);
    this.checkQuorum = r.chance(0.7);
    this.readOnlyOption = this.checkQuorum && r.chance(0.25) ? "lease-based" : "safe";
    this.clockDrift = this.readOnlyOption === "safe" && r.chance(0.5);
    this.crashWeight = r.int(4);
    this.partitionWeight = 1 + r.int(4);
    this.confWeight = r.int(3);
    this.maxVoters = r.chance(0.5) ? 5 : 4;
    this.bounceRate = r.chance(0.4) ? 0 : r.next() * 0.03;
    this.voteBounceRate = r.chance(0.4) ? 0 : r.next() * 0.5;
    this.leaderFaultRate = r.chance(0.4) ? 0 : r.next() * 0.4;
    this.commitFaultRate = r.chance(0.5) ? 0 : r.next() * 0.15;
    this.raftSeedBase = r.u32();
  }

  drawFaults(r: Rng): NetworkFaults {
    const delayMinMs = 1 + r.int(3);
    return {
      dropRate: r.chance(0.3) ? 0 : r.next() * 0.12,
      duplicateRate: r.chance(0.5) ? 0 : r.next() * 0.06,
      delayMinMs,
      delayMaxMs: delayMinMs + r.int(20),
      slowRate: r.chance(0.5) ? 0 : r.next() * 0.05,
      slowDelayMaxMs: 50 + r.int(300),
    };
  }

  // ---- trace ----

  trace(line: string | Message, lost = false): void {
    const item: TraceItem = { ms: this.now, line, lost };
    if (this.opts.verbose) this.opts.log?.(renderTrace(item));
    const w = this.opts.window;
    if (w && this.now >= w.fromMs && this.now <= w.toMs && this.windowLines.length < 400) {
      this.windowLines.push(renderTrace(item));
    }
    const max = this.opts.traceLines ?? 200;
    if (this.ring.length < max) this.ring.push(item);
    else this.ring[this.ringAt++ % max] = item;
  }

  traceTail(): string[] {
    const max = this.opts.traceLines ?? 200;
    const at = this.ring.length < max ? 0 : this.ringAt % max;
    return [...this.ring.slice(at), ...this.ring.slice(0, at)].map(renderTrace);
  }

  freezeTraceOnViolation(): void {
    if (this.frozenTrace === null && this.monitor.violations.length > 0) {
      const v = this.monitor.violations[0];
      this.trace(`VIOLATION ${v.property}: ${v.detail}`);
      this.frozenTrace = this.traceTail();
    }
  }

  // ---- nodes ----

  env(): NodeEnv {
    return {
      now: () => this.now,
      send: (m) => this.send(m),
      reply: (clientId, opId, reply) => {
        this.queue.push(this.now + 1 + this.rng.int(3), { type: "reply", clientId, opId, reply });
      },
      persistLater: (_node, done) => {
        const delay = this.fsyncMaxMs === 0 ? 0 : this.rng.int(this.fsyncMaxMs + 1);
        this.queue.push(this.now + delay, { type: "persisted", done });
      },
      monitor: this.monitor,
      trace: (line) => this.trace(line),
      onLeader: (node) => this.onLeader(node),
      onCommitted: (node, entries) => this.onCommitted(node, entries),
      onCommandApplied: (opId) => this.appliedOps.add(opId),
      onConfApplied: (node, conf, index) => this.onConfApplied(node, conf, index),
      sendBeforePersist: this.opts.sendBeforePersist ?? false,
      groupHostOrder: this.opts.groupHostOrder ?? false,
      snapshotEveryEntries: this.snapshotEveryEntries,
      snapshotKeepEntries: this.snapshotKeepEntries,
    };
  }

  newNode(peers: string[]): SimNode {
    const id = `n${this.nextNodeNumber++}`;
    const node = new SimNode({
      id,
      peers,
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      readOnlyOption: this.readOnlyOption,
      maxSizePerMsg: this.maxSizePerMsg,
      maxEntriesPerAppend: this.maxEntriesPerAppend,
      maxInflightMsgs: this.maxInflightMsgs,
      snapshotChunkBytes: 128,
      randomSeed: (this.raftSeedBase + this.nextNodeNumber * 7919) >>> 0,
      knobs: this.opts.knobs,
    }, this.env());
    this.nodes.set(id, node);
    this.tickPeriodMs.set(id, this.clockDrift ? this.rng.pick([9, 10, 11]) : tickMs);
    return node;
  }

  scheduleTick(node: SimNode): void {
    const periodMs = this.tickPeriodMs.get(node.id) ?? tickMs;
    this.queue.push(this.now + periodMs, { type: "tick", node, life: node.incarnation });
  }

  send(m: Message): void {
    this.stats.messages++;
    if (m.type === "snapshot" && m.offset === 0) this.stats.snapshotsSent++;
    const delays = this.network.route(m.from, m.to);
    this.trace(m, delays.length === 0);
    for (const d of delays) this.queue.push(this.now + d, { type: "message", message: m });
    // Crash points: right after a node promised something (a vote, an acknowledgement).
    const granted = (m.type === "vote-resp" || m.type === "append-resp") && !m.reject;
    const rate = !granted ? 0 : m.type === "vote-resp" ? this.voteBounceRate : this.bounceRate;
    if (rate > 0 && this.rng.chance(rate)) {
      const node = this.nodes.get(m.from);
      if (node !== undefined) {
        this.queue.push(this.now, { type: "bounce", node, life: node.incarnation, downMs: 8 });
      }
    }
  }

  members(): SimNode[] {
    return [...this.nodes.values()].filter((n) => !this.removed.has(n.id));
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.members()) {
      if (!n.alive || n.raft === null) continue;
      const s = n.raft.status();
      if (s.role === "leader" && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  }

  onConfApplied(
    node: SimNode,
    conf: { voters: string[]; learners: string[] },
    index: number,
  ): void {
    // Membership moves forward only: act on each committed change once, in log order.
    if (index <= this.confIndexSeen) return;
    this.confIndexSeen = index;
    for (const id of [...conf.voters, ...conf.learners]) this.memberSince.add(id);
    for (const other of this.nodes.values()) {
      if (this.removed.has(other.id) || !this.memberSince.has(other.id)) continue;
      if (conf.voters.includes(other.id) || conf.learners.includes(other.id)) continue;
      this.removed.add(other.id);
      this.trace(
        `${other.id} removed from the group (applied by ${node.id} at ${index}); shut down`,
      );
      this.queue.push(this.now, { type: "shutdown", node: other });
    }
  }

  /** Nodes that were ever in a committed membership (joining nodes are not, until added). */
  readonly memberSince = new Set<string>();
  confIndexSeen = 0;

  /** A leader that just applied entries may be cut off or crash at once. */
  onCommitted(node: SimNode, entries: Entry[]): void {
    if (this.commitFaultRate === 0 || this.now >= this.faultEndMs) return;
    const status = node.raft?.status();
    if (status?.role !== "leader") return;
    // Leaders that just applied entries of earlier terms are the interesting ones to disrupt.
    const older = entries[entries.length - 1].term < status.term;
    if (!this.rng.chance(older ? 0.5 : this.commitFaultRate)) return;
    if (this.rng.chance(0.5)) {
      this.queue.push(this.now, { type: "bounce", node, life: node.incarnation, downMs: 300 });
      return;
    }
    this.network.heal();
    const others = this.members().map((n) => n.id).filter((id) => id !== node.id);
    this.network.partition([node.id], others);
    this.trace(`nemesis: isolate leader ${node.id} right after it committed`);
    // Keep this partition a while: long enough for the rest to elect a new leader.
    this.networkHoldUntilMs = this.now + 400;
  }

  /** A new leader may be cut off or crash at once, before its first entry spreads. */
  onLeader(node: SimNode): void {
    this.stats.leaderChanges++;
    if (this.now >= this.faultEndMs || !this.rng.chance(this.leaderFaultRate)) return;
    if (this.rng.chance(0.5)) {
      const others = this.members().map((n) => n.id).filter((id) => id !== node.id);
      if (this.rng.chance(0.7)) this.network.heal();
      this.network.partition([node.id], others);
      this.trace(`nemesis: isolate ${node.id} as soon as it leads`);
    } else {
      this.queue.push(this.now, { type: "bounce", node, life: node.incarnation, downMs: 300 });
    }
  }

  // ---- run ----

  run(): SimResult {
    const r = this.rng;
    const count = r.chance(0.7) ? 3 : 5;
    const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    for (const _ of ids) this.newNode(ids);
    for (const id of ids) this.memberSince.add(id);
    for (const n of this.nodes.values()) {
      n.start();
      this.queue.push(r.int(tickMs), { type: "tick", node: n, life: n.incarnation });
    }
    this.trace(
      `start: ${ids.join(",")} ` +
        `preVote=${this.preVote} checkQuorum=${this.checkQuorum} reads=${this.readOnlyOption} ` +
        `drift=${this.clockDrift} fsync<=${this.fsyncMaxMs}ms ` +
        `snapshotEvery=${this.snapshotEveryEntries} maxEntriesPerAppend=${this.maxEntriesPerAppend} ` +
        `maxInflight=${this.maxInflightMsgs} net=${JSON.stringify(this.network.faults)}`,
    );
    const clientCount = 2 + r.int(5);
    for (let i = 1; i <= clientCount; i++) {
      const client: Client = {
        id: i,
        rng: createRng(r.u32()),
        op: null,
        serial: 0,
        seen: new Map(),
        target: r.pick(ids),
      };
      this.clients.push(client);
      this.queue.push(20 + r.int(50), { type: "client-wake", clientId: i, opId: 0 });
    }
    this.queue.push(this.nemesisGapMs, { type: "nemesis" });
    this.queue.push(this.faultEndMs, { type: "heal" });
    this.loop();
    this.finalChecks();
    this.freezeTraceOnViolation();
    this.stats.simulatedMs = this.now;
    return {
      seed: this.opts.seed,
      violations: this.monitor.violations,
      trace: this.frozenTrace ?? [],
      window: this.windowLines,
      stats: this.stats,
    };
  }

  loop(): void {
    let events = 0;
    let nextLogCheckMs = 500;
    for (;;) {
      const ev = this.queue.pop();
      if (ev === undefined || ev.atMs > this.endMs) break;
      if (++events > eventsMax) {
        this.monitor.report("invariant", `more than ${eventsMax} events: runaway simulation`);
        break;
      }
      this.now = ev.atMs;
      try {
        this.dispatch(ev.payload);
      } catch (e) {
        this.monitor.report("invariant", `exception: ${e instanceof Error ? e.stack : String(e)}`);
        break;
      }
      if (this.now >= nextLogCheckMs) {
        nextLogCheckMs += 500;
        this.checkLogs();
      }
      this.freezeTraceOnViolation();
      if (this.monitor.violations.length > 0) break;
    }
  }

  dispatch(ev: Event): void {
    switch (ev.type) {
      case "tick":
        if (!ev.node.alive || ev.node.incarnation !== ev.life) return;
        ev.node.deliver({ type: "tick" });
        this.scheduleTick(ev.node);
        return;
      case "message": {
        const to = this.nodes.get(ev.message.to);
        if (to === undefined || !to.alive) return;
        // A link cut while the message was in flight loses it too.
        if (this.network.isCut(ev.message.from, ev.message.to)) return;
        to.deliver({ type: "message", message: ev.message });
        return;
      }
      case "persisted":
        ev.done();
        return;
      case "request": {
        const node = this.nodes.get(ev.nodeId);
        if (node === undefined || !node.alive) return; // lost: the client times out
        node.deliver({ type: "request", envelope: ev.envelope });
        return;
      }
      case "reply":
        this.onReply(ev.clientId, ev.opId, ev.reply);
        return;
      case "client-wake":
        this.onClientWake(ev.clientId, ev.opId);
        return;
      case "nemesis":
        if (this.now < this.faultEndMs) {
          this.nemesis();
          this.queue.push(this.now + 1 + this.rng.int(2 * this.nemesisGapMs), { type: "nemesis" });
        }
        return;
      case "heal":
        this.healAll();
        return;
      case "bounce":
        // Crash right after a promise went out, then come back soon: the promise must hold.
        if (!ev.node.alive || ev.node.incarnation !== ev.life || this.now >= this.faultEndMs) {
          return;
        }
        ev.node.crash();
        this.stats.crashes++;
        this.trace(`nemesis: crash ${ev.node.id} at once, back within ${ev.downMs}ms`);
        this.queue.push(this.now + 1 + this.rng.int(ev.downMs), { type: "restart", node: ev.node });
        return;
      case "restart":
        if (!ev.node.alive && !this.removed.has(ev.node.id)) this.restart(ev.node);
        return;
      case "shutdown":
        if (ev.node.alive) ev.node.crash();
        return;
    }
  }

  // ---- nemesis ----

  nemesis(): void {
    const action = this.pickAction();
    const members = this.members();
    const ids = members.map((n) => n.id);
    const leader = this.leader();
    switch (action) {
      case "partition":
      case "isolate-leader":
      case "one-way":
      case "heal":
        // A partition made to let an election happen is left alone for a while.
        if (this.now >= this.networkHoldUntilMs) this.cutNetwork(action, ids, leader);
        return;
      case "crash":
        this.crashOne(members, leader);
        return;
      case "power-failure":
        this.powerFailure(members);
        return;
      case "restart": {
        const dead = members.filter((n) => !n.alive);
        if (dead.length > 0) this.restart(this.rng.pick(dead));
        return;
      }
      case "conf":
        this.changeMembership(leader);
        return;
      case "transfer":
        this.transfer(leader);
        return;
      case "faults":
        this.network.faults = this.drawFaults(this.rng);
        this.trace(`nemesis: network faults ${JSON.stringify(this.network.faults)}`);
        return;
    }
  }

  pickAction(): NemesisAction {
    const weights: [NemesisAction, number][] = [
      ["partition", this.partitionWeight],
      ["isolate-leader", this.partitionWeight],
      ["one-way", this.partitionWeight],
      ["heal", 2],
      ["crash", this.crashWeight],
      ["restart", this.crashWeight + 1],
      ["power-failure", this.crashWeight > 0 ? 1 : 0],
      ["conf", this.confWeight],
      ["transfer", 1],
      ["faults", 1],
    ];
    const total = weights.reduce((a, [, w]) => a + w, 0);
    let x = this.rng.int(total);
    for (const [name, w] of weights) {
      if (x < w) return name;
      x -= w;
    }
    throw new Error("unreachable: weights exhausted");
  }

  cutNetwork(action: NemesisAction, ids: string[], leader: SimNode | undefined): void {
    const r = this.rng;
    if (action === "heal") {
      this.network.heal();
      this.trace("nemesis: heal network");
      return;
    }
    // Most new partitions replace the old ones; some pile up on them.
    if (r.chance(0.7)) this.network.heal();
    if (action === "partition") {
      const side = ids.filter(() => r.chance(0.5));
      if (side.length === 0 || side.length === ids.length) return;
      const rest = ids.filter((id) => !side.includes(id));
      this.network.partition(side, rest);
      this.trace(`nemesis: partition {${side}} | {${rest}}`);
    } else if (action === "isolate-leader") {
      if (leader === undefined) return;
      this.network.partition([leader.id], ids);
      this.trace(`nemesis: isolate leader ${leader.id}`);
    } else {
      const a = leader?.id ?? r.pick(ids);
      const others = ids.filter((id) => id !== a);
      if (r.chance(0.5)) this.network.partition([a], others, { oneWay: true });
      else this.network.partition(others, [a], { oneWay: true });
      this.trace(`nemesis: one-way cut around ${a}: ${this.network.describeCuts()}`);
    }
  }

  crashOne(members: SimNode[], leader: SimNode | undefined): void {
    const alive = members.filter((n) => n.alive);
    if (alive.length === 0) return;
    const victim = leader !== undefined && this.rng.chance(0.4) ? leader : this.rng.pick(alive);
    victim.crash();
    this.stats.crashes++;
    this.trace(`nemesis: crash ${victim.id}`);
  }

  /** Several nodes lose power at once: a majority, sometimes everyone. */
  powerFailure(members: SimNode[]): void {
    const r = this.rng;
    const alive = members.filter((n) => n.alive);
    const count = r.chance(0.3) ? alive.length : Math.floor(members.length / 2) + 1;
    const victims = [...alive];
    for (let i = victims.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [victims[i], victims[j]] = [victims[j], victims[i]];
    }
    for (const v of victims.slice(0, count)) v.crash();
    this.stats.crashes += Math.min(count, victims.length);
    this.trace(`nemesis: power failure of ${victims.slice(0, count).map((n) => n.id)}`);
  }

  transfer(leader: SimNode | undefined): void {
    if (leader === undefined || leader.raft === null) return;
    const voters = leader.raft.status().conf.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = this.rng.pick(voters);
    try {
      leader.raft.transferLeadership(to);
      this.trace(`nemesis: transfer leadership ${leader.id} -> ${to}`);
    } catch (e) {
      this.trace(`nemesis: transfer to ${to} refused: ${(e as Error).message}`);
    }
    leader.drive();
  }

  restart(node: SimNode): void {
    node.restart();
    this.trace(
      `restart ${node.id} (term ${node.storage.hardState().term}, vote ${node.storage.hardState().vote}, last index ${node.storage.lastIndex()})`,
    );
    this.queue.push(this.now + 1 + this.rng.int(tickMs), {
      type: "tick",
      node,
      life: node.incarnation,
    });
  }

  changeMembership(leader: SimNode | undefined): void {
    if (leader === undefined || leader.raft === null) return;
    const conf = leader.raft.status().conf;
    const r = this.rng;
    if (conf.learners.length > 0) {
      const id = r.pick(conf.learners);
      if (leader.proposeConfChange({ type: "add-voter", nodeId: id })) {
        this.trace(`nemesis: propose promote learner ${id}`);
        this.stats.confChanges++;
      }
      return;
    }
    const grow = conf.voters.length < this.maxVoters && (conf.voters.length <= 3 || r.chance(0.5));
    if (grow) {
      if (this.nodes.size >= 9) return;
      const node = this.newNode([]);
      node.join();
      this.scheduleTick(node);
      const type = r.chance(0.5) ? "add-learner" : "add-voter";
      if (leader.proposeConfChange({ type, nodeId: node.id })) {
        this.trace(`nemesis: propose ${type} ${node.id}`);
        this.stats.confChanges++;
      }
      return;
    }
    if (conf.voters.length <= 3) return;
    const victim = r.pick(conf.voters);
    if (leader.proposeConfChange({ type: "remove-node", nodeId: victim })) {
      this.trace(`nemesis: propose remove-node ${victim}`);
      this.stats.confChanges++;
    }
  }

  healAll(): void {
    this.network.heal();
    this.network.faults = { ...calmNetwork };
    this.trace("heal: network healed and calm; restarting every crashed member");
    for (const n of this.members()) if (!n.alive) this.restart(n);
  }

  // ---- clients ----

  onClientWake(clientId: number, opId: number): void {
    const c = this.clients[clientId - 1];
    if (c.op !== null && opId === c.op.opId) {
      // A retry or attempt timer of the current operation.
      if (this.now >= c.op.deadlineMs) {
        c.target = this.otherNode(c, c.target);
        this.finishOp(c, null, "timeout");
        return;
      }
      this.sendAttempt(c);
      return;
    }
    if (c.op !== null || opId !== 0) return; // stale timer
    if (this.now >= this.clientsStopMs) return;
    const request = nextRequest(c.rng, { clientId: c.id, valueSerial: ++c.serial, seen: c.seen });
    c.op = {
      opId: this.nextOpId++,
      request,
      callStamp: ++this.stamp,
      callMs: this.now,
      deadlineMs: this.now + opTimeoutMs,
      target: c.target,
    };
    this.stats.operations++;
    this.sendAttempt(c);
  }

  sendAttempt(c: Client): void {
    const op = c.op!;
    const envelope: RequestEnvelope = { opId: op.opId, clientId: c.id, request: op.request };
    this.queue.push(this.now + 1 + this.rng.int(3), {
      type: "request",
      nodeId: c.target,
      envelope,
    });
    const isRead = op.request.kind === "get" || op.request.kind === "stale-get";
    // Writes are never re-sent after a silence (that could apply them twice); reads may be.
    const wakeMs = isRead ? Math.min(op.deadlineMs, this.now + readAttemptMs) : op.deadlineMs;
    if (isRead) {
      this.queue.push(wakeMs, { type: "client-wake", clientId: c.id, opId: op.opId });
      if (wakeMs < op.deadlineMs) c.target = this.otherNode(c, c.target);
    } else {
      this.queue.push(wakeMs, { type: "client-wake", clientId: c.id, opId: op.opId });
    }
  }

  otherNode(c: Client, not: string): string {
    const ids = this.members().map((n) => n.id).filter((id) => id !== not);
    return ids.length === 0 ? not : c.rng.pick(ids);
  }

  onReply(clientId: number, opId: number, reply: NodeReply): void {
    const c = this.clients[clientId - 1];
    if (c.op === null || c.op.opId !== opId) return; // late reply to an abandoned attempt
    if (reply.type === "refused") {
      const hint = reply.leader;
      c.target = hint !== null && hint !== reply.nodeId ? hint : this.otherNode(c, reply.nodeId);
      const backoff = hint !== null ? 1 + c.rng.int(5) : 10 + c.rng.int(30);
      if (this.now + backoff >= c.op.deadlineMs) return; // the deadline timer ends it
      // Re-send: a refusal proves the request had no effect.
      this.queue.push(this.now + backoff, { type: "client-wake", clientId, opId });
      return;
    }
    this.finishOp(c, reply, "ok");
  }

  finishOp(c: Client, reply: NodeReply | null, why: string): void {
    const op = c.op!;
    c.op = null;
    const returnStamp = ++this.stamp;
    const req = op.request;
    const output = reply?.type === "ok" ? reply.output : null;
    if (output !== null && output.kind === "get") {
      c.seen.set(
        req.key,
        output.value === null ? null : { value: output.value, version: output.version },
      );
    } else if (
      output !== null && "version" in output && output.version !== undefined && "value" in req
    ) {
      c.seen.set(req.key, { value: req.value, version: output.version });
    }
    const nodeId = reply?.nodeId ?? "-";
    if (req.kind === "stale-get") {
      if (output?.kind === "get") {
        this.staleReads.push({
          key: req.key,
          value: output.value,
          callTime: op.callStamp,
          returnTime: returnStamp,
        });
      }
    } else if (!(req.kind === "get" && output === null)) {
      const record: Operation = {
        clientId: c.id,
        input: req,
        output,
        callTime: op.callStamp,
        returnTime: returnStamp,
      };
      this.history.push(record);
      this.historyMeta.push({ opId: op.opId, callMs: op.callMs, returnMs: this.now, nodeId });
      if (output === null) this.stats.unknown++;
      else this.stats.acknowledged++;
    }
    {
      this.trace(
        `client c${c.id} ${why} op ${op.opId} ${JSON.stringify(req)} via ${nodeId} -> ${
          JSON.stringify(output)
        }`,
      );
    }
    this.queue.push(this.now + c.rng.int(20), { type: "client-wake", clientId: c.id, opId: 0 });
  }

  // ---- checks ----

  checkLogs(): void {
    const views = [...this.nodes.values()].map((n) => ({
      nodeId: n.id,
      storage: n.storage,
      pending: [],
    }));
    this.monitor.checkLogMatching(views);
  }

  finalChecks(): void {
    if (this.monitor.violations.length > 0) return;
    this.checkLogs();
    this.checkConverged();
    this.checkAcknowledgedWrites();
    this.addFinalReads();
    if (this.monitor.violations.length === 0) this.dropWritesNeverApplied();
    this.checkHistory();
  }

  /**
   * Once the cluster is quiet and caught up, the leader's state machine is read directly and
   * added to the history as a last read of each key: a lost acknowledged write shows there.
   */
  addFinalReads(): void {
    const leader = this.leader();
    if (leader === undefined || leader.sm.applied !== leader.raft!.status().commit) return;
    if (this.clients.some((c) => c.op !== null)) return;
    for (const key of new Set(this.history.map((op) => op.input.key))) {
      const v = leader.sm.get(key);
      this.history.push({
        clientId: 0,
        input: { kind: "get", key },
        output: { kind: "get", value: v?.value ?? null, version: v?.version ?? 0 },
        callTime: ++this.stamp,
        returnTime: ++this.stamp,
      });
      this.historyMeta.push({
        opId: 0,
        callMs: this.now,
        returnMs: this.now,
        nodeId: `${leader.id} (final)`,
      });
    }
  }

  /**
   * Once the cluster converged, a timed-out write that no node ever applied can no longer
   * take effect: it is dropped from the history instead of being left pending for ever,
   * which would make the search try it at every point.
   */
  dropWritesNeverApplied(): void {
    let kept = 0;
    for (let i = 0; i < this.history.length; i++) {
      const pending = this.history[i].output === null;
      if (pending && !this.appliedOps.has(this.historyMeta[i].opId)) continue;
      this.history[kept] = this.history[i];
      this.historyMeta[kept] = this.historyMeta[i];
      kept++;
    }
    this.trace(`history: ${this.history.length - kept} timed-out writes never applied, dropped`);
    this.history.length = kept;
    this.historyMeta.length = kept;
  }

  /** After healing, every live member must have caught up with one leader's commit. */
  checkConverged(): void {
    const leader = this.leader();
    if (leader === undefined || leader.raft === null) {
      this.monitor.report("liveness", `no leader ${this.now - this.faultEndMs} ms after healing`);
      return;
    }
    const commit = leader.raft.status().commit;
    for (const n of this.members()) {
      if (!n.alive) continue;
      const conf = n.raft!.status().conf;
      const inGroup = conf.voters.includes(n.id) || conf.learners.includes(n.id);
      if (inGroup && n.sm.applied < commit) {
        this.monitor.report(
          "liveness",
          `${n.id} applied ${n.sm.applied}, leader ${leader.id} committed ${commit}, after healing`,
        );
      }
    }
  }

  checkAcknowledgedWrites(): void {
    const leader = this.leader();
    if (leader === undefined) return;
    for (let i = 0; i < this.history.length; i++) {
      const out = this.history[i].output;
      if (out === null || !("version" in out) || out.version === undefined || out.kind === "get") {
        continue;
      }
      if (leader.sm.applied < out.version && leader.storage.lastIndex() < out.version) {
        this.monitor.report(
          "acknowledged-write-lost",
          `${
            formatOperation(this.history[i])
          } acknowledged at index ${out.version}, beyond leader ${leader.id}'s log`,
        );
      }
    }
  }

  checkHistory(): void {
    const report = checkHistory(this.history, { stepsMax: 3_000_000 });
    if (report.result === "illegal") {
      const bad = report.keys.find((k) => k.result === "illegal")!;
      const ops = this.history
        .map((op, i) => ({ op, meta: this.historyMeta[i] }))
        .filter((x) => x.op.input.key === bad.key)
        .sort((x, y) => x.op.callTime - y.op.callTime);
      // The search got stuck near the operation after the longest legal prefix.
      const from = Math.max(0, bad.linearizedMax - 12);
      const shown = ops.slice(from, bad.linearizedMax + 12);
      const lines = shown.map((x) =>
        `${formatOperation(x.op)}  (${x.meta.callMs}-${x.meta.returnMs}ms via ${x.meta.nodeId})`
      );
      const atMs = ops[Math.min(bad.linearizedMax, ops.length - 1)].meta.callMs;
      this.monitor.report(
        "linearizability",
        `history of key ${bad.key} (${bad.operationCount} ops) is not linearizable: no legal order ` +
          `explains more than ${bad.linearizedMax} of them; stuck near ${atMs}ms (replay with ` +
          `--verbose and look there). Operations ${from + 1}..${
            from + shown.length
          } by call time:\n  ` +
          lines.join("\n  "),
        atMs,
      );
    }
    this.stats.uncheckedKeys = report.keys.filter((k) => k.result === "unknown").length;
    if (report.result === "unknown") {
      this.trace(`linearizability check ran out of budget: ${JSON.stringify(report.keys)}`);
    }
    const stale = checkStaleReads(this.history, this.staleReads);
    if (stale.length > 0) {
      this.monitor.report("stale-read", `read a value never written: ${JSON.stringify(stale[0])}`);
    }
  }
}
