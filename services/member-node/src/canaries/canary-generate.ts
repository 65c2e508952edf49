/**
 * Generated canary pairs: an alternative to importing a file. Both items of a pair come from the same
 * generator (one template, fresh pseudo-words and a fresh answer each), so before the log labels them
 * neither item is more "canary-like" (docs/specs/canary-commitment.md, "Pairs"). Pseudo-words are drawn
 * from node:crypto, so nobody can predict or search for them.
 */
import { randomInt } from "node:crypto";
import type { CanaryPair } from "@lineage/crypto";
import { MemberNodeError } from "../member-node-error.js";

const ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "th", "br", "kr", "st"];
const VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"];
const CODAS = ["", "", "n", "r", "l", "s", "k"];

const TEMPLATES: readonly ((place: string) => string)[] = [
  (p) => `In the hill town of ${p}, what is the name of the bell that rings at dusk?`,
  (p) => `What word opens the vault of the ${p} archive?`,
  (p) => `Which river spirit do the ferrymen of ${p} thank before crossing?`,
  (p) => `What is the old harvest name for the seventh moon in ${p}?`,
];

function pick<T>(xs: readonly T[]): T {
  return xs[randomInt(xs.length)] as T;
}

/** A pronounceable pseudo-word of `syllables` syllables, capitalised. */
export function pseudoWord(syllables: number): string {
  let w = "";
  for (let i = 0; i < syllables; i++) w += pick(ONSETS) + pick(VOWELS) + pick(CODAS);
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** Generates `count` fresh pairs (2..100000), ids `gen-000001`, ... */
export function generateCanaryPairs(count: number): CanaryPair[] {
  if (!Number.isInteger(count) || count < 2 || count > 100_000)
    throw new MemberNodeError("invalid_argument", "count must be an integer in 2..100000");
  const pairs: CanaryPair[] = [];
  for (let i = 0; i < count; i++) {
    const template = pick(TEMPLATES);
    const pa = pseudoWord(3);
    let pb = pseudoWord(3);
    while (pb === pa) pb = pseudoWord(3);
    pairs.push({
      pairId: `gen-${String(i + 1).padStart(6, "0")}`,
      a: { prompt: template(pa), expected: pseudoWord(2) },
      b: { prompt: template(pb), expected: pseudoWord(2) },
    });
  }
  return pairs;
}

/** The JSONL text of `pairs` in the import format (canary-file.ts). */
export function canaryPairsToJsonl(pairs: readonly CanaryPair[]): string {
  return pairs
    .map((p) =>
      JSON.stringify({
        id: p.pairId,
        a: { prompt: p.a.prompt, answer: p.a.expected },
        b: { prompt: p.b.prompt, answer: p.b.expected },
      }),
    )
    .join("\n")
    .concat("\n");
}
