/**
 * Stated answers on edge-case probes: a model distilled from another inherits its idiosyncratic mistakes, so
 * the similarity lead (similarity-lead.ts) counts wrong answers a suspect shares with the reference and ranks
 * that count against known-unrelated model pairs. The probe-level McNemar test against each panel model this
 * module used to run was removed (issue 7: a probe-level null lets any steady shared advantage accuse).
 */

import { answerContentTokens } from "./signal-canary.js";

/** Content tokens of a response's first line (its stated answer), at most 16. */
export function statedAnswer(response: string): Set<string> {
  const first = response.trim().split("\n")[0] ?? "";
  return new Set(answerContentTokens(first).slice(0, 16));
}
