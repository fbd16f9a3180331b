/** Membership changes: encoding of ConfChange entries and applying them to a ConfState. */

import { invariant } from "./errors.ts";
import type { ConfChange, ConfState } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a ConfChange as the data of a "conf-change" entry (its context only when set). */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const { type, nodeId, context } = change;
  const value = context === undefined ? { type, nodeId } : { type, nodeId, context };
  return encoder.encode(JSON.stringify(value));
}

/** Decodes the data of a "conf-change" entry; throws on bytes that are not a ConfChange. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const value = JSON.parse(decoder.decode(data));
  const ok = typeof value === "object" && value !== null && typeof value.nodeId === "string" &&
    (value.type === "add-voter" || value.type === "add-learner" || value.type === "remove-node") &&
    (value.context === undefined || typeof value.context === "string");
  if (!ok) throw new TypeError("conf-change entry data is not a ConfChange");
  const change: ConfChange = { type: value.type, nodeId: value.nodeId };
  if (value.context !== undefined) change.context = value.context;
  return change;
}

/**
 * Returns the membership after `change`. Changes that alter nothing (adding a present
 * voter, removing an absent node) return an equal ConfState. A voter cannot be demoted to
 * a learner (remove it, then add it as a learner).
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== change.nodeId);
  const learners = conf.learners.filter((id) => id !== change.nodeId);
  const wasVoter = voters.length !== conf.voters.length;
  switch (change.type) {
    case "add-voter":
      voters.push(change.nodeId);
      break;
    case "add-learner":
      // Raft rule (membership): a voter is never silently demoted by a learner add.
      if (wasVoter) voters.push(change.nodeId);
      else learners.push(change.nodeId);
      break;
    case "remove-node":
      break;
  }
  voters.sort();
  learners.sort();
  invariant(!voters.some((id) => learners.includes(id)), "a node is both voter and learner");
  return { voters, learners };
}
