/** Stops loudly when something the transport relies on is not true (a bug, not bad input). */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`transport invariant violated: ${message}`);
}
