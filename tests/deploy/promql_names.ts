/**
 * Finds the metric names a PromQL expression selects, without a PromQL parser: enough to
 * check that dashboards and alerts only chart metrics that exist.
 */

const keywords = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** Grouping clauses whose parenthesized lists hold label names, not metrics. */
const labelListClause = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

/**
 * The metric names `expr` selects, in order of first use. Grafana variables ($instance,
 * $__rate_interval) are ignored; function and aggregation names are not metrics.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ") // strings
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // range and subquery windows
    .replace(/\boffset\s+-?(?:\d+(?:ms|[smhdwy]))+/gi, " ") // offset modifiers
    .replace(labelListClause, " ")
    .replace(/\$\{?\w+\}?/g, " ") // Grafana variables
    .replace(/(?<![\w:])\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, " "); // numbers
  const names: string[] = [];
  for (const match of stripped.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = match[0];
    const after = stripped.slice(match.index! + word.length).trimStart();
    if (after.startsWith("(")) continue; // a function or an aggregation
    if (keywords.has(word.toLowerCase())) continue;
    if (!names.includes(word)) names.push(word);
  }
  return names;
}
