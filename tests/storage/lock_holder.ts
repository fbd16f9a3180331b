/** Test helper: opens the store in Deno.args[0], says "locked", then waits to be killed. */
import { open } from "../../src/storage/mod.ts";

await open(Deno.args[0]);
await Deno.stdout.write(new TextEncoder().encode("locked\n"));
setInterval(() => {}, 60_000); // keeps the process (and the lock) alive until it is killed
