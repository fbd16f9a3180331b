/**
 * ringkv's deterministic cluster simulator and linearizability checker. Run seeds with
 * `deno task sim --seeds N`; use these exports to drive runs from tests.
 */

export {
  checkHistory,
  checkKeyHistory,
  type CheckReport,
  type CheckResult,
  checkStaleReads,
  type KvInput,
  type KvOutput,
  type Operation,
} from "./linearizability.ts";
export { runSimulation, type SimOptions, type SimResult, type SimStats } from "./simulation.ts";
export { formatFailure, type KnobName, knobNames, replayCommand, runSeed } from "./main.ts";
export type { Violation } from "./invariants.ts";
