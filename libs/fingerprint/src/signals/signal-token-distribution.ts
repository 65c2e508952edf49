/**
 * Token-distribution overlap: the overlap mass sum_t min(p_a(t), p_b(t)) of two top-k next-token distributions
 * over the tokens in both lists (a lower bound on 1 - total variation). The similarity lead
 * (similarity-lead.ts) compares first generated positions with it and ranks the result against known-unrelated
 * model pairs. The probe-level sign test this module used to run ("closer than each panel model, probe by
 * probe") was removed: its null was the wrong one (issue 7; DESIGN.md "Deciding copied") — any steady
 * advantage of a model sharing a base or a vendor with the reference drove it to zero.
 */

/** Overlap mass of two top-k distributions (see the module comment). */
export function topOverlap(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let s = 0;
  for (const [t, p] of a) {
    const q = b.get(t);
    if (q !== undefined) s += Math.min(p, q);
  }
  return Math.min(1, s);
}
