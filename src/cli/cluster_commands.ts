/**
 * The CLI's cluster commands: `members`, `add-member`, `remove-member`, `transfer-leader`,
 * and the cluster part of `status`.
 */
import { type ClusterView, HttpError, type RingkvClient } from "../client/mod.ts";
import type { Command, CommandContext } from "./commands.ts";
import { exitCode, UsageError } from "./format.ts";

/** Longest `add-member --promote` waits for the new node to catch up, by default. */
export const promoteWaitMsDefault = 120_000;

const idPattern = /^[A-Za-z0-9_.-]{1,64}$/;

function checkId(id: string): string {
  if (!idPattern.test(id)) {
    throw new UsageError(`"${id}" is not a node id (1-64 characters of A-Z a-z 0-9 _ . -)`);
  }
  return id;
}

async function printJson(ctx: CommandContext, value: unknown): Promise<void> {
  await ctx.io.out(JSON.stringify(value) + "\n");
}

function cell(value: number | string | boolean | null): string {
  return value === null ? "-" : String(value);
}

/** The cluster as text: a head line, then one row per member. */
export function formatClusterView(view: ClusterView): string {
  const head = `cluster: leader ${view.leader ?? "none"}, term ${view.term}, ` +
    `commit ${view.commit_index}` +
    (view.complete
      ? ` (as leader ${view.answered_by} sees it)`
      : ` (as ${view.answered_by} sees it: the leader could not be asked, no lag figures)`) +
    (view.transfer_to === null ? "" : `; leadership moving to ${view.transfer_to}`);
  const rows = [["ID", "ROLE", "PEER", "MATCH", "LAG", "COMMIT", "APPLIED", "REPLICATION"]];
  for (const m of view.members) {
    rows.push([
      m.id + (m.leader ? "*" : ""),
      m.role,
      cell(m.peer),
      cell(m.match_index),
      cell(m.lag),
      cell(m.commit_index),
      cell(m.applied_index),
      m.active === false ? `${cell(m.progress)} (not answering)` : cell(m.progress),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((v, c) => v.padEnd(widths[c])).join("  ").trimEnd());
  return [head, ...lines].join("\n") + "\n";
}

/** The node's cluster view, or undefined when the node does not run in a cluster (404). */
export async function clusterOrUndefined(client: RingkvClient): Promise<ClusterView | undefined> {
  try {
    return await client.cluster();
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return undefined;
    throw error;
  }
}

/** `members`: the cluster's members, roles, indexes and lag. */
export const membersCommand: Command = {
  name: "members",
  usage: "members",
  summary: "list the cluster's members: role, peer address, indexes and lag (* = leader)",
  options: {},
  optionHelp: [],
  positionalsMin: 0,
  positionalsMax: 0,
  async run(ctx) {
    const view = await ctx.client.cluster();
    if (ctx.json) await printJson(ctx, view);
    else await ctx.io.out(formatClusterView(view));
    return exitCode.ok;
  },
};

/** `add-member ID PEER [--promote]`. */
export const addMemberCommand: Command = {
  name: "add-member",
  usage: "add-member ID PEER [--promote] [--wait-ms MS]",
  summary: "add node ID (peer address PEER, host:port) as a learner; --promote makes it a voter",
  options: { promote: { type: "boolean" }, "wait-ms": { type: "string" } },
  optionHelp: [
    ["--promote", "then wait for it to catch up and promote it to voter"],
    ["--wait-ms MS", `longest wait for the catch-up (default ${promoteWaitMsDefault})`],
  ],
  positionalsMin: 2,
  positionalsMax: 2,
  async run(ctx, values, [id, peer]) {
    checkId(id);
    const waitMs = waitFlag(values["wait-ms"]);
    const added = await ctx.client.addMember(id, peer);
    if (!ctx.json) {
      await ctx.io.out(
        added.changed
          ? `added ${id} (${peer}) as a learner at index ${added.index}\n`
          : `${id} is a member already (${added.role})\n`,
      );
    }
    if (values.promote !== true || added.role === "voter") {
      if (ctx.json) await printJson(ctx, added);
      return exitCode.ok;
    }
    const promoted = await promoteWhenCaughtUp(ctx, id, waitMs);
    if (ctx.json) await printJson(ctx, promoted);
    else {
      await ctx.io.out(
        promoted.changed
          ? `promoted ${id} to voter at index ${promoted.index}\n`
          : `${id} is a voter already\n`,
      );
    }
    return exitCode.ok;
  },
};

function waitFlag(raw: unknown): number {
  if (raw === undefined) return promoteWaitMsDefault;
  const n = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || n < 1 || n > 86_400_000) {
    throw new UsageError(`--wait-ms must be a whole number from 1 to 86400000, got "${raw}"`);
  }
  return n;
}

/** Asks for promotion until the leader agrees; prints the lag meanwhile (to stderr). */
async function promoteWhenCaughtUp(ctx: CommandContext, id: string, waitMs: number) {
  const deadline = Date.now() + waitMs;
  let lastLag: unknown;
  for (let attempt = 0;; attempt++) {
    try {
      return await ctx.client.promoteMember(id);
    } catch (error) {
      const lagging = error instanceof HttpError && error.status === 409 &&
        error.problem["reason"] === "lagging";
      if (!lagging) throw error;
      if (Date.now() + 500 > deadline) {
        throw new Error(
          `${id} did not catch up within ${waitMs} ms (${error.problem.detail}). It stays a ` +
            `learner: run \`add-member ${id} PEER --promote\` again later, or raise --wait-ms`,
        );
      }
      const lag = error.problem["lag"];
      if (lag !== lastLag && !ctx.json) await ctx.io.err(`${id} is catching up: lag ${lag}\n`);
      lastLag = lag;
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 4))));
  }
}

/** `remove-member ID`. */
export const removeMemberCommand: Command = {
  name: "remove-member",
  usage: "remove-member ID",
  summary: "remove node ID from the cluster (a leader hands leadership over first)",
  options: {},
  optionHelp: [],
  positionalsMin: 1,
  positionalsMax: 1,
  async run(ctx, _values, [id]) {
    const removed = await ctx.client.removeMember(checkId(id));
    if (ctx.json) await printJson(ctx, removed);
    else await ctx.io.out(`removed ${id} at index ${removed.index}\n`);
    return exitCode.ok;
  },
};

/** `transfer-leader [ID]`. */
export const transferLeaderCommand: Command = {
  name: "transfer-leader",
  usage: "transfer-leader [ID]",
  summary: "hand leadership to voter ID (default: the most caught-up voter)",
  options: {},
  optionHelp: [],
  positionalsMin: 0,
  positionalsMax: 1,
  async run(ctx, _values, [id]) {
    const moved = await ctx.client.transferLeader(id === undefined ? undefined : checkId(id));
    if (ctx.json) await printJson(ctx, moved);
    else if (!moved.changed) {
      await ctx.io.out(`${moved.leader} leads already (term ${moved.term})\n`);
    } else {
      await ctx.io.out(
        `leadership moved from ${moved.previous} to ${moved.leader} (term ${moved.term})\n`,
      );
    }
    return exitCode.ok;
  },
};
