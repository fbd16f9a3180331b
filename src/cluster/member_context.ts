/**
 * What a membership change carries besides the node id: the node's peer address, as JSON in
 * the conf-change entry's opaque context. Because it is in the log, every replica learns the
 * address when it applies the change, and a restarted node rebuilds its peer list from its log.
 */

/** The host data of one member, carried in the context of the conf-change entry adding it. */
export interface MemberContext {
  /** The member's peer (Raft) address host:port. */
  peer: string;
}

/** Encodes a member's context for a ConfChange. */
export function encodeMemberContext(context: MemberContext): string {
  return JSON.stringify({ peer: context.peer });
}

/**
 * Decodes a ConfChange context; undefined for a missing or foreign one (entries written
 * before addresses rode along carry none).
 */
export function decodeMemberContext(context: string | undefined): MemberContext | undefined {
  if (context === undefined) return undefined;
  try {
    const value = JSON.parse(context);
    if (typeof value?.peer === "string" && value.peer !== "") return { peer: value.peer };
  } catch {
    // Not ours: treated as no context.
  }
  return undefined;
}
