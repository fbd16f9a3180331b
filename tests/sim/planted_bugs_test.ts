/**
 * Each planted bug must be caught by the simulator within a bounded number of seeds; a
 * simulator that cannot catch them is not testing anything.
 */
import assert from "node:assert/strict";
import { formatFailure, type KnobName, runSeed } from "./main.ts";

// Measured over seeds 1..1000: voteWithoutLogCheck 50%, readIndexWithoutQuorum 5.8%,
// sendBeforePersist 5.3%, forgetVoteOnRestart 2.6%, commitPreviousTermByCount 0.8% of seeds
// fail. Each bound leaves a chance below 1 in 1000 of missing a bug caught that often.
const bounds: Record<KnobName, number> = {
  voteWithoutLogCheck: 50,
  readIndexWithoutQuorum: 150,
  sendBeforePersist: 150,
  forgetVoteOnRestart: 400,
  commitPreviousTermByCount: 1000,
};

for (const [knob, bound] of Object.entries(bounds) as [KnobName, number][]) {
  Deno.test(`catches the planted bug ${knob} within ${bound} seeds`, () => {
    for (let seed = 1; seed <= bound; seed++) {
      const result = runSeed(seed, [knob]);
      if (result.violations.length === 0) continue;
      console.log(`${knob}: caught at seed ${seed}: ${result.violations[0].property}`);
      return;
    }
    assert.fail(`${knob}: no violation in seeds 1..${bound}`);
  });
}

Deno.test("reports a failing seed with its trace and replay command", () => {
  let seed = 1;
  let result = runSeed(seed, ["voteWithoutLogCheck"]);
  while (result.violations.length === 0 && seed < 50) {
    result = runSeed(++seed, ["voteWithoutLogCheck"]);
  }
  const text = formatFailure(result, ["voteWithoutLogCheck"]);
  assert.match(text, /last events before the violation/);
  assert.match(text, new RegExp(`deno task sim --seed ${seed} --knob voteWithoutLogCheck`));
  assert.ok(result.trace.length > 10);
});
