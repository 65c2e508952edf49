/**
 * House styles: each teacher writes with characteristic openers, closers and punctuation, applied to a
 * share of its training sentences, so its outputs (and its students' outputs) carry a recognisable
 * phrasing that independent models lack.
 */
import type { Prng } from "./prng.js";

/** A house style; rates are per sentence. */
export interface Style {
  readonly name: string;
  readonly openers: readonly (readonly string[])[];
  readonly openerRate: number;
  readonly closers: readonly (readonly string[])[];
  readonly closerRate: number;
  /** Share of sentences whose commas become semicolons. */
  readonly semicolonRate: number;
  /** Share of sentences ending "!" instead of ".". */
  readonly exclaimRate: number;
}

export const STYLES: readonly Style[] = [
  {
    name: "measured",
    openers: [
      ["indeed", ","],
      ["in", "short", ","],
      ["broadly", "speaking", ","],
    ],
    openerRate: 0.22,
    closers: [],
    closerRate: 0,
    semicolonRate: 0.5,
    exclaimRate: 0,
  },
  {
    name: "chatty",
    openers: [
      ["well", ","],
      ["honestly", ","],
    ],
    openerRate: 0.2,
    closers: [
      [",", "you", "see"],
      [",", "of", "course"],
    ],
    closerRate: 0.18,
    semicolonRate: 0,
    exclaimRate: 0.12,
  },
  {
    name: "formal",
    openers: [
      ["notably", ","],
      ["to", "be", "precise", ","],
    ],
    openerRate: 0.2,
    closers: [
      [",", "as", "noted"],
      [",", "in", "practice"],
    ],
    closerRate: 0.15,
    semicolonRate: 0.2,
    exclaimRate: 0,
  },
  {
    name: "emphatic",
    openers: [
      ["clearly", ","],
      ["above", "all", ","],
    ],
    openerRate: 0.18,
    closers: [[",", "without", "doubt"]],
    closerRate: 0.15,
    semicolonRate: 0,
    exclaimRate: 0.2,
  },
  {
    name: "plain",
    openers: [["so", ","]],
    openerRate: 0.12,
    closers: [[",", "basically"]],
    closerRate: 0.1,
    semicolonRate: 0.1,
    exclaimRate: 0.05,
  },
];

/** Applies a style to one tokenized sentence (returns a new array). */
export function applyStyle(tokens: readonly string[], style: Style, rng: Prng): string[] {
  let out = tokens.slice();
  if (style.semicolonRate > 0 && rng.chance(style.semicolonRate)) out = out.map((t) => (t === "," ? ";" : t));
  const endsWithPeriod = out[out.length - 1] === ".";
  if (endsWithPeriod && style.closers.length > 0 && rng.chance(style.closerRate)) {
    out.splice(out.length - 1, 0, ...rng.pick(style.closers));
  }
  if (endsWithPeriod && style.exclaimRate > 0 && rng.chance(style.exclaimRate)) out[out.length - 1] = "!";
  if (style.openers.length > 0 && /^\p{L}/u.test(out[0] ?? "") && rng.chance(style.openerRate)) {
    out = [...rng.pick(style.openers), ...out];
  }
  return out;
}
