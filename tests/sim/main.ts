/**
 * The simulator's command line: runs seeds and reports violations.
 *
 *   deno task sim --seeds N [--from S] [--seed S] [--verbose] [--knob name]...
 *
 * The last line is always "sim: N seeds, V violations". A failing seed prints the trace of
 * the events before its violation and the command that replays it.
 */

import { parseArgs } from "node:util";
import type { RaftKnobs } from "../../src/raft/mod.ts";
import { runSimulation, type SimResult } from "./simulation.ts";

/** Knobs the simulator understands: the core's planted bugs plus the host's own. */
export const knobNames = [
  "readIndexWithoutQuorum",
  "commitPreviousTermByCount",
  "voteWithoutLogCheck",
  "forgetVoteOnRestart",
  "sendBeforePersist",
] as const;

/** One of {@link knobNames}. */
export type KnobName = typeof knobNames[number];

/** Runs one seed with the named planted bugs enabled. */
export function runSeed(
  seed: number,
  knobs: KnobName[] = [],
  options: { verbose?: boolean; window?: { fromMs: number; toMs: number } } = {},
): SimResult {
  const core: Partial<RaftKnobs> = {};
  for (const k of knobs) if (k !== "sendBeforePersist") core[k] = true;
  return runSimulation({
    seed,
    knobs: core,
    sendBeforePersist: knobs.includes("sendBeforePersist"),
    verbose: options.verbose ?? false,
    window: options.window,
    log: (line) => console.log(line),
  });
}

/** The command that replays one seed. */
export function replayCommand(seed: number, knobs: KnobName[]): string {
  return `deno task sim --seed ${seed}${knobs.map((k) => ` --knob ${k}`).join("")} --verbose`;
}

/** Renders a failing seed's report. */
export function formatFailure(result: SimResult, knobs: KnobName[]): string {
  const lines = [`seed ${result.seed}: ${result.violations.length} violation(s)`];
  for (const v of result.violations.slice(0, 5)) {
    lines.push(`  [${v.atMs}ms] ${v.property}: ${v.detail}`);
  }
  const focus = result.violations[0]?.focusMs;
  if (focus !== undefined) {
    // Found after the run: replay the seed and show what happened around the spot.
    const replay = runSeed(result.seed, knobs, {
      window: { fromMs: focus - 60, toMs: focus + 30 },
    });
    lines.push(`  events around ${focus}ms (replayed):`);
    for (const t of replay.window) lines.push(`    ${t}`);
  } else if (result.trace.length > 0) {
    lines.push("  last events before the violation:");
    for (const t of result.trace) lines.push(`    ${t}`);
  }
  lines.push(`  replay: ${replayCommand(result.seed, knobs)}`);
  return lines.join("\n");
}

function main(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      seeds: { type: "string" },
      from: { type: "string" },
      seed: { type: "string" },
      verbose: { type: "boolean", default: false },
      knob: { type: "string", multiple: true, default: [] },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task sim --seeds N [--from S] [--seed S] [--verbose] [--knob name]...\n" +
        `knobs: ${knobNames.join(", ")}`,
    );
    return 0;
  }
  const knobs = values.knob as string[];
  for (const k of knobs) {
    if (!(knobNames as readonly string[]).includes(k)) {
      console.error(`unknown knob ${k}; known: ${knobNames.join(", ")}`);
      return 2;
    }
  }
  const single = values.seed !== undefined;
  const from = Number(values.seed ?? values.from ?? 1);
  const count = single ? 1 : Number(values.seeds ?? 100);
  if (!Number.isInteger(from) || !Number.isInteger(count) || count < 1) {
    console.error("--seeds, --from and --seed take integers (seeds >= 1)");
    return 2;
  }
  let violations = 0;
  let failedSeeds = 0;
  const started = performance.now();
  for (let seed = from; seed < from + count; seed++) {
    const result = runSeed(seed, knobs as KnobName[], { verbose: values.verbose });
    if (result.violations.length > 0) {
      violations += result.violations.length;
      failedSeeds++;
      console.log(formatFailure(result, knobs as KnobName[]));
    }
    if (single) console.log(`seed ${seed}: ${JSON.stringify(result.stats)}`);
    const done = seed - from + 1;
    if (!single && done % 500 === 0) {
      const s = ((performance.now() - started) / 1000).toFixed(1);
      console.error(`... ${done}/${count} seeds, ${failedSeeds} failing, ${s}s`);
    }
  }
  console.log(`sim: ${count} seeds, ${violations} violations`);
  return violations === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(main(Deno.args));
