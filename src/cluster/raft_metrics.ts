/**
 * The Raft and peer metrics of a cluster node. Gauges and transport counters are read from
 * the host at scrape time (each group's status, the transport's stats); the few events the
 * host must report as they happen (a leader change, a proposal applied, a WAL append made
 * durable, a snapshot) arrive through {@link RaftObserver}, whose calls cost a map lookup and
 * a few increments and allocate nothing.
 */
import type { NodeId } from "../raft/mod.ts";
import type { StoreObserver } from "../storage/types.ts";
import type { GroupId, WalObserver } from "../storage/wal/mod.ts";
import type { PeerStats } from "../transport/mod.ts";
import {
  KeyedHistogram,
  type MetricValue,
  type ScrapedMetric,
  scrapedMetric,
} from "../metric_series.ts";

/** Events a group host reports as they happen. */
export interface GroupObserver {
  /** A proposal of `group` made here was applied here, `seconds` after it was proposed. */
  committed(group: GroupId, seconds: number): void;
  /** `group` took a snapshot of its state machine in `seconds`. */
  snapshotTaken(group: GroupId, seconds: number): void;
  /** `group` installed a snapshot received from its leader in `seconds`. */
  snapshotInstalled(group: GroupId, seconds: number): void;
}

/** Everything a Raft host reports to metrics: group events, leader changes, WAL and stores. */
export interface RaftObserver extends GroupObserver {
  /** `group` learned of a new leader (not: lost its leader). */
  leaderChanged(group: GroupId): void;
  /** The shared WAL's hooks: append latency per group, fsync latency. */
  readonly wal: WalObserver;
  /** The hooks of every group's store (its background fsyncs). */
  readonly store: StoreObserver;
}

/** What the metrics read of one group at scrape time (a GroupHost satisfies it). */
export interface MeteredGroup {
  readonly groupId: GroupId;
  readonly isLeader: boolean;
  readonly appliedIndex: number;
  /** Proposals made here that wait to be applied. */
  readonly proposalsPending: number;
  status(): { term: number; commit: number };
}

/** What the metrics read of a host at scrape time (a RaftHost satisfies it). */
export interface RaftMetricsSource {
  /** The groups this node hosts now. */
  groupHosts(): Iterable<MeteredGroup>;
  /** The peer transport's counters per peer; undefined before it started. */
  transportStats(): { peers: Record<NodeId, PeerStats> } | undefined;
}

/** Options of {@link RaftMetrics}. */
export interface RaftMetricsOptions {
  /** Told of every WAL fsync (its duration and the entries it made durable). */
  walSynced?: (durationSeconds: number, entries: number) => void;
  /** Hooks for the groups' stores. Default: none. */
  store?: StoreObserver;
}

const appendBucketsSeconds = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
];
const commitBucketsSeconds = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];
const snapshotBucketsSeconds = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

interface GroupSample {
  group: string;
  term: number;
  isLeader: boolean;
  commitIndex: number;
  appliedIndex: number;
  proposalsPending: number;
}

/** Counter keys kept at most (groups); past it events are dropped, like the histograms'. */
const groupsMax = 4096;

/**
 * The cluster metrics and the observer that feeds them. Register `metrics()` in a registry,
 * pass `this` (a RaftObserver) to the host, then `setSource(host)` once it runs.
 */
export class RaftMetrics implements RaftObserver {
  readonly wal: WalObserver;
  readonly store: StoreObserver;
  readonly #append = new KeyedHistogram(appendBucketsSeconds, { labelName: "group" });
  readonly #commit = new KeyedHistogram(commitBucketsSeconds, { labelName: "group" });
  readonly #snapshotTaken = new KeyedHistogram(snapshotBucketsSeconds, { labelName: "group" });
  readonly #snapshotInstalled = new KeyedHistogram(snapshotBucketsSeconds, {
    labelName: "group",
  });
  readonly #leaderChanges = new Map<GroupId, number>();
  #source: RaftMetricsSource | undefined;
  /** The groups read for the scrape in progress (cleared after it, see #groups). */
  #samples: GroupSample[] | undefined;

  /** See {@link RaftMetricsOptions}. */
  constructor(options: RaftMetricsOptions = {}) {
    const walSynced = options.walSynced;
    this.wal = {
      synced: walSynced,
      appended: (group, seconds) => this.#append.observe(group, seconds),
    };
    this.store = options.store ?? {};
  }

  /** Sets (or replaces) the host read at scrape time. */
  setSource(source: RaftMetricsSource): void {
    this.#source = source;
  }

  leaderChanged(group: GroupId): void {
    const count = this.#leaderChanges.get(group);
    if (count !== undefined) this.#leaderChanges.set(group, count + 1);
    else if (this.#leaderChanges.size < groupsMax) this.#leaderChanges.set(group, 1);
  }

  committed(group: GroupId, seconds: number): void {
    this.#commit.observe(group, seconds);
  }

  snapshotTaken(group: GroupId, seconds: number): void {
    this.#snapshotTaken.observe(group, seconds);
  }

  snapshotInstalled(group: GroupId, seconds: number): void {
    this.#snapshotInstalled.observe(group, seconds);
  }

  /** Every metric, to register in a prom-client registry. */
  metrics(): ScrapedMetric[] {
    const gauge = (name: string, help: string, read: (s: GroupSample) => number) =>
      scrapedMetric(
        name,
        help,
        "gauge",
        () => this.#groups().map((s) => ({ value: read(s), labels: { group: s.group } })),
      );
    return [
      gauge("ringkv_raft_term", "Current Raft term of the group on this node.", (s) => s.term),
      gauge(
        "ringkv_raft_is_leader",
        "1 while this node leads the group, else 0.",
        (s) => s.isLeader ? 1 : 0,
      ),
      gauge("ringkv_raft_commit_index", "Highest log index known committed.", (s) => s.commitIndex),
      gauge(
        "ringkv_raft_applied_index",
        "Highest log index applied to this node's store.",
        (s) => s.appliedIndex,
      ),
      gauge(
        "ringkv_raft_proposals_pending",
        "Proposals made on this node that wait to be applied.",
        (s) => s.proposalsPending,
      ),
      scrapedMetric(
        "raft_leader_changes_total",
        "Times the group learned of a new leader.",
        "counter",
        () => this.#withGroups(() => this.#leaderChangeValues()),
      ),
      ...this.#histograms(),
      ...this.#peerMetrics(),
    ];
  }

  #histograms(): ScrapedMetric[] {
    const append = "ringkv_raft_append_duration_seconds";
    const commit = "ringkv_raft_commit_duration_seconds";
    const snapshots = "ringkv_raft_snapshot_duration_seconds";
    return [
      scrapedMetric(
        append,
        "From a group's WAL append to its entries and hard state being durable (queue, write, fsync).",
        "histogram",
        () => this.#withGroups(() => this.#append.values(append)),
      ),
      scrapedMetric(
        commit,
        "From proposing a write on the leader to applying it there.",
        "histogram",
        () => this.#withGroups(() => this.#commit.values(commit)),
      ),
      scrapedMetric(
        "ringkv_raft_snapshots_total",
        "Snapshots taken (kind=taken) and installed from the leader (kind=installed).",
        "counter",
        () => this.#withGroups(() => this.#snapshotCounts()),
      ),
      scrapedMetric(
        snapshots,
        "Duration of taking (kind=taken) or installing (kind=installed) a snapshot.",
        "histogram",
        () =>
          this.#withGroups(() => [
            ...this.#snapshotTaken.values(snapshots, { kind: "taken" }),
            ...this.#snapshotInstalled.values(snapshots, { kind: "installed" }),
          ]),
      ),
    ];
  }

  #peerMetrics(): ScrapedMetric[] {
    const peerValues = (read: (p: PeerStats) => number) => (): MetricValue[] => {
      const peers = this.#source?.transportStats()?.peers ?? {};
      return Object.entries(peers).map(([peer, p]) => ({ value: read(p), labels: { peer } }));
    };
    return [
      scrapedMetric(
        "ringkv_peer_sent_bytes_total",
        "Bytes written to a peer's connections after their handshake.",
        "counter",
        peerValues((p) => p.bytesOut),
      ),
      scrapedMetric(
        "ringkv_peer_received_bytes_total",
        "Bytes read from a peer's connections after their handshake.",
        "counter",
        peerValues((p) => p.bytesIn),
      ),
      scrapedMetric(
        "ringkv_peer_reconnects_total",
        "Connections to a peer established after the first one.",
        "counter",
        peerValues((p) => p.reconnects),
      ),
      scrapedMetric(
        "ringkv_peer_connected",
        "1 while a connection to the peer is up, else 0.",
        "gauge",
        peerValues((p) => p.connected ? 1 : 0),
      ),
    ];
  }

  /**
   * The hosted groups, read once per scrape: the registry calls every metric's get() in one
   * synchronous pass, so the samples are kept until the next microtask. Also creates each
   * group's event series at zero, so rates over them have a start.
   */
  #groups(): GroupSample[] {
    if (this.#samples !== undefined) return this.#samples;
    const samples: GroupSample[] = [];
    for (const g of this.#source?.groupHosts() ?? []) {
      const status = g.status();
      samples.push({
        group: String(g.groupId),
        term: status.term,
        isLeader: g.isLeader,
        commitIndex: status.commit,
        appliedIndex: g.appliedIndex,
        proposalsPending: g.proposalsPending,
      });
      this.#ensureGroup(g.groupId);
    }
    this.#samples = samples;
    queueMicrotask(() => this.#samples = undefined);
    return samples;
  }

  #ensureGroup(group: GroupId): void {
    if (!this.#leaderChanges.has(group) && this.#leaderChanges.size < groupsMax) {
      this.#leaderChanges.set(group, 0);
    }
    this.#append.ensure(group);
    this.#commit.ensure(group);
    this.#snapshotTaken.ensure(group);
    this.#snapshotInstalled.ensure(group);
  }

  /** `read()` after the groups of this scrape were read (and their series created). */
  #withGroups(read: () => MetricValue[]): MetricValue[] {
    this.#groups();
    return read();
  }

  #leaderChangeValues(): MetricValue[] {
    return [...this.#leaderChanges].map(([group, value]) => ({
      value,
      labels: { group: String(group) },
    }));
  }

  #snapshotCounts(): MetricValue[] {
    const out: MetricValue[] = [];
    const kinds = [["taken", this.#snapshotTaken], ["installed", this.#snapshotInstalled]] as const;
    for (const [kind, h] of kinds) {
      for (const group of h.keys()) {
        out.push({ value: h.count(group), labels: { group: String(group), kind } });
      }
    }
    return out;
  }
}
