/** Short, readable renderings of Raft messages for simulation traces. */

import type { Message } from "../../src/raft/mod.ts";

/** One line describing a message, e.g. "n1->n2 append t3 prev=4/2 [5..7] commit=4". */
export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "vote":
    case "pre-vote":
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? " transfer" : ""}`;
    case "vote-resp":
    case "pre-vote-resp":
      return `${head} ${m.reject ? "reject" : "grant"}`;
    case "append": {
      const n = m.entries.length;
      const span = n === 0 ? "[]" : `[${m.entries[0].index}..${m.entries[n - 1].index}]`;
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} ${span} commit=${m.commit}`;
    }
    case "append-resp":
      return m.reject
        ? `${head} reject ${m.index} hint=${m.hintIndex}/${m.hintTerm}`
        : `${head} ok ${m.index}`;
    case "heartbeat":
      return `${head} commit=${m.commit} read=${m.readSeq}`;
    case "heartbeat-resp":
      return `${head} read=${m.readSeq}`;
    case "snapshot":
      return `${head} snap@${m.metadata.index} ${m.offset}+${m.data.byteLength}/${m.totalBytes}`;
    case "snapshot-resp":
      return `${head} snap@${m.index} offset=${m.offset}${m.reject ? " reject" : ""}`;
    case "timeout-now":
      return head;
  }
}
