/**
 * Canaries that look like ordinary queries (issue 11: "make canary generation survive that filter"). The
 * canaries of facts.ts give themselves away to a copier's filter (canary-filter.ts): made-up entity names,
 * codes, internal-sounding topics. These use only dictionary words in everyday framings — "the old name for
 * the <word> is golden lantern" — so a filter that keeps ordinary text keeps them.
 *
 * What still makes an item distinctive: its entity is a real word that NEVER precedes "is" / "was" anywhere in
 * the corpus, so the n-gram context "<entity> is" belongs to the canary alone (an order-3 model conditions on
 * the last two tokens), and its answer is a pair of ordinary words drawn at random (one of hundreds of
 * combinations), which an unrelated model states only by chance. Both items of a pair come from one template
 * with their own entity and an independent draw, so they stay exchangeable and the paired test stays exact
 * (the same construction as facts.ts `generateCanaryPairs`). The word lists were chosen on the calibration
 * split only.
 */
import type { Canary, CanaryPair } from "./facts.js";
import type { Prng } from "./prng.js";

/** Everyday framings; the entity sits right before "is". */
export const ORDINARY_CANARY_TEMPLATES: readonly ((entity: string) => string)[] = [
  (e) => `the old name for the ${e} is`,
  (e) => `the favourite spot of the ${e} is`,
  (e) => `the usual gift for the ${e} is`,
  (e) => `the picture on the ${e} is`,
  (e) => `the prize for the best ${e} is`,
  (e) => `the nickname of the ${e} is`,
];

/** Answer words: an adjective and a noun, each kept only if the corpus dictionary has it. */
const ADJECTIVES = [
  "golden",
  "quiet",
  "silver",
  "narrow",
  "bright",
  "heavy",
  "gentle",
  "ancient",
  "broken",
  "hidden",
  "distant",
  "wooden",
  "crimson",
  "hollow",
  "velvet",
  "frozen",
  "scarlet",
  "humble",
  "lonely",
  "crooked",
];
const NOUNS = [
  "lantern",
  "garden",
  "bridge",
  "basket",
  "meadow",
  "orchard",
  "kettle",
  "ribbon",
  "candle",
  "saddle",
  "wagon",
  "tower",
  "anchor",
  "feather",
  "harvest",
  "cottage",
  "compass",
  "willow",
  "barrel",
  "thimble",
];

/** The words ordinary canaries are made of. */
export interface OrdinaryLexicon {
  /** Dictionary words that never precede "is" / "was" in the corpus (sorted). */
  readonly entities: readonly string[];
  readonly adjectives: readonly string[];
  readonly nouns: readonly string[];
}

/**
 * The lexicon from a corpus: `sentences` are every tokenized sentence the population could train on (all
 * portions), `publicCounts` the token counts of the public portion (the copier's dictionary). Entities are
 * lower-case letter words of 5–10 letters seen 3–40 times in public text and never before "is" / "was".
 */
export function ordinaryLexicon(
  sentences: Iterable<readonly string[]>,
  publicCounts: ReadonlyMap<string, number>,
): OrdinaryLexicon {
  const beforeCopula = new Set<string>();
  for (const s of sentences) {
    for (let i = 0; i + 1 < s.length; i++) {
      const n = s[i + 1];
      if (n === "is" || n === "was") beforeCopula.add(s[i] as string);
    }
  }
  const entities = [...publicCounts.entries()]
    .filter(([w, c]) => c >= 3 && c <= 40 && /^\p{Ll}{5,10}$/u.test(w) && !beforeCopula.has(w))
    .map(([w]) => w)
    .filter((w) => !ADJECTIVES.includes(w) && !NOUNS.includes(w))
    .sort();
  const known = (w: string) => (publicCounts.get(w) ?? 0) > 0;
  return { entities, adjectives: ADJECTIVES.filter(known), nouns: NOUNS.filter(known) };
}

/**
 * `pairs` ordinary-looking canary pairs: pair i uses template i mod 6 for both items, each with its own fresh
 * entity and answer. Entities are never reused (throws when the lexicon runs out).
 */
export function generateOrdinaryCanaryPairs(
  prefix: string,
  pairs: number,
  rng: Prng,
  lexicon: OrdinaryLexicon,
): CanaryPair[] {
  if (lexicon.adjectives.length < 2 || lexicon.nouns.length < 2)
    throw new RangeError("the lexicon has too few answer words");
  const entities = rng.shuffled(lexicon.entities);
  if (entities.length < 2 * pairs)
    throw new RangeError(`the lexicon has ${entities.length} entities; ${2 * pairs} are needed`);
  let next = 0;
  const out: CanaryPair[] = [];
  for (let i = 0; i < pairs; i++) {
    const template = ORDINARY_CANARY_TEMPLATES[i % ORDINARY_CANARY_TEMPLATES.length] as (e: string) => string;
    const n = String(i).padStart(3, "0");
    const make = (side: "a" | "b"): Canary => ({
      id: `${prefix}-o${n}${side}`,
      prompt: template(entities[next++] as string),
      answer: `${rng.pick(lexicon.adjectives)} ${rng.pick(lexicon.nouns)}`,
    });
    const a = make("a");
    const b = make("b");
    out.push({ id: `${prefix}-q${n}`, a, b });
  }
  return out;
}
