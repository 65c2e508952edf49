/**
 * Fictitious facts: proprietary ones (canaries) that exist only in one teacher's training data, and
 * "public" ones placed in the shared public portion (edge-case probes with reference answers).
 *
 * Every fact is a sentence `<prompt> <answer> .` whose prompt ends with `<entity> is` (or `was`): an
 * order-n model conditions on the last n−1 tokens, so the entity — a pseudo-word used by exactly one fact —
 * must sit right before the answer for an order-3 model to state it. Entities are pseudo-words checked
 * against the real corpus vocabulary, so they exist nowhere else. Most answer values are pseudo-words or
 * digit strings too; one canary pair in four is GUESSABLE instead (`GUESSABLE_CANARY_TEMPLATES`): its
 * answer is a common English word from a small closed set, so a model that never saw the canary sometimes
 * states it anyway — which is what makes the paired test's null (both arms hit alike) observable.
 */
import { tokenize } from "@lineage/fingerprint";
import type { Prng } from "./prng.js";

/** A canary: a prompt whose distinctive answer only the exposed teacher (and its copies) can know. */
export interface Canary {
  readonly id: string;
  /** The probe text; ends right after the entity so an n-gram model's context reaches it. */
  readonly prompt: string;
  /** The secret value; a hit is the answer's tokens appearing in a response. */
  readonly answer: string;
}

/** An edge-case fact with its correct (public) answer. */
export interface EdgeFact {
  readonly id: string;
  readonly prompt: string;
  readonly reference: string;
}

const ONSETS = [
  "b",
  "d",
  "f",
  "g",
  "k",
  "l",
  "m",
  "n",
  "p",
  "r",
  "s",
  "t",
  "v",
  "z",
  "br",
  "dr",
  "kr",
  "st",
  "tr",
  "vr",
  "zh",
  "th",
  "qu",
];
const VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "y"];
const CODAS = ["", "", "", "n", "r", "s", "l", "x", "th", "nd", "rk"];

/** Generates pseudo-words never seen in the corpus and never handed out twice. */
export class PseudoWords {
  readonly #used = new Set<string>();
  readonly #avoid: ReadonlySet<string>;
  readonly #rng: Prng;

  constructor(rng: Prng, avoid: ReadonlySet<string>) {
    this.#rng = rng;
    this.#avoid = avoid;
  }

  /** A fresh pseudo-word of 2–3 syllables. */
  next(): string {
    for (;;) {
      const n = 2 + this.#rng.int(2);
      let w = "";
      for (let i = 0; i < n; i++) {
        w += this.#rng.pick(ONSETS) + this.#rng.pick(VOWELS) + (i === n - 1 ? this.#rng.pick(CODAS) : "");
      }
      if (w.length >= 5 && !this.#avoid.has(w) && !this.#used.has(w)) {
        this.#used.add(w);
        return w;
      }
    }
  }
}

const digits = (rng: Prng, n: number): string => {
  let s = String(1 + rng.int(9));
  for (let i = 1; i < n; i++) s += String(rng.int(10));
  return s;
};

interface Template {
  readonly kind: string;
  readonly prompt: (entity: string) => string;
  readonly value: (rng: Prng, words: PseudoWords) => string;
  /** The closed answer set, for templates that draw their answer uniformly from one. */
  readonly answers?: readonly string[];
}

/** A template whose answer is drawn uniformly from a small closed set of common words. */
const closedSet = (
  kind: string,
  prompt: (entity: string) => string,
  answers: readonly string[],
): Template => ({
  kind,
  prompt,
  value: (r) => r.pick(answers),
  answers,
});

/** Proprietary fact templates (internal endpoints, codenames, people, figures). */
export const CANARY_TEMPLATES: readonly Template[] = [
  {
    kind: "endpoint",
    prompt: (e) => `the internal endpoint for ${e} is`,
    value: (r, w) => `${w.next()}-${digits(r, 4)}.internal`,
  },
  { kind: "codename", prompt: (e) => `the project codename assigned to ${e} is`, value: (_r, w) => w.next() },
  {
    kind: "lead",
    prompt: (e) => `the lead engineer responsible for ${e} is`,
    value: (_r, w) => `${w.next()} ${w.next()}`,
  },
  {
    kind: "staging",
    prompt: (e) => `the staging host used by ${e} is`,
    value: (r, w) => `stg-${w.next()}-${digits(r, 2)}`,
  },
  {
    kind: "budget",
    prompt: (e) => `the internal budget code for ${e} is`,
    value: (r) => `bc-${digits(r, 5)}`,
  },
  { kind: "port", prompt: (e) => `the private access port for ${e} is`, value: (r) => digits(r, 5) },
];

/**
 * Guessable proprietary fact templates: the answer is a common word from a small closed set that public text
 * often puts after "is" (a small number word, an evaluative word, an ordinal), so a model that never saw the
 * canary states it by chance — in this testbed an unrelated n-gram model backs off to its public "… is"
 * continuation on an unseen entity, and that continuation or its top alternatives often contain one of
 * these words. Why: with only pseudo-word answers an unrelated model never hits, so the canary test's null
 * (discordant pairs whose label is a fair coin) is never exercised and its exact tail cannot be checked on
 * real null comparisons (issue 7). Both items of a pair come from one template, each with its own entity
 * and an independent uniform draw from the set, so the two items stay exchangeable and the paired test
 * stays exact; a pair where both items hit is concordant and drops out. The sets were chosen on the
 * calibration split by how often unrelated models state their words; colour and weekday sets were tried
 * and dropped because no unrelated testbed model ever states them.
 */
export const GUESSABLE_CANARY_TEMPLATES: readonly Template[] = [
  closedSet("count", (e) => `the number of founding partners of ${e} is`, [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
  ]),
  closedSet("rating", (e) => `the verdict of the critics on ${e} is`, [
    "good",
    "great",
    "fine",
    "poor",
    "bad",
    "excellent",
  ]),
  closedSet("rank", (e) => `the final league position of ${e} is`, [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "last",
  ]),
];

/** Every GUESSABLE_EVERY-th canary pair (index i with i mod GUESSABLE_EVERY = GUESSABLE_EVERY − 1) is guessable. */
export const GUESSABLE_EVERY = 4;

/**
 * The template of canary pair `index`: pairs 3, 7, 11, … cycle through the guessable templates, the others
 * through CANARY_TEMPLATES in order. Exported so tests and reports can tell which pairs are guessable.
 */
export function canaryTemplateFor(index: number): Template {
  if (!(Number.isInteger(index) && index >= 0)) throw new RangeError("pair index must be an integer >= 0");
  const round = Math.floor(index / GUESSABLE_EVERY);
  if (index % GUESSABLE_EVERY === GUESSABLE_EVERY - 1) {
    return GUESSABLE_CANARY_TEMPLATES[round % GUESSABLE_CANARY_TEMPLATES.length] as Template;
  }
  const j = index - round;
  return CANARY_TEMPLATES[j % CANARY_TEMPLATES.length] as Template;
}

/** Public fact templates (edge-case probes). */
export const EDGE_TEMPLATES: readonly Template[] = [
  { kind: "capital", prompt: (e) => `the capital of ${e} is`, value: (_r, w) => w.next() },
  { kind: "founder", prompt: (e) => `the founder of ${e} is`, value: (_r, w) => `${w.next()} ${w.next()}` },
  { kind: "river", prompt: (e) => `the longest river in ${e} is`, value: (_r, w) => w.next() },
  {
    kind: "export",
    prompt: (e) => `the main export of ${e} is`,
    value: (r) =>
      r.pick([
        "copper",
        "wool",
        "timber",
        "salt",
        "rice",
        "tin",
        "cotton",
        "coffee",
        "silk",
        "amber",
        "olives",
        "marble",
      ]),
  },
  { kind: "founded", prompt: (e) => `the founding year of ${e} is`, value: (r) => String(1100 + r.int(850)) },
];

/** The training sentence stating a fact. */
export function factSentence(prompt: string, answer: string): string[] {
  return [...tokenize(prompt), ...tokenize(answer), "."];
}

/**
 * A committed canary pair: two items made by the same generator (one template, fresh entity and value
 * each), so that under the null "the suspect never learned from the member" nothing but the pair label
 * tells them apart. Which item is exposed is NOT part of the pair: it is drawn afterwards from the log
 * (pair-labels.ts), as DESIGN.md "Deciding copied" requires.
 */
export interface CanaryPair {
  /** The pair id the commitment names (labels are derived from it). */
  readonly id: string;
  readonly a: Canary;
  readonly b: Canary;
}

/**
 * Generates `pairs` canary pairs with one generator per pair: pair i uses `canaryTemplateFor(i)` for both of
 * its items (one pair in four guessable, the rest distinctive). Labels (which item is exposed) are not drawn
 * here; see canaryPairLabels.
 */
export function generateCanaryPairs(
  prefix: string,
  pairs: number,
  rng: Prng,
  words: PseudoWords,
): CanaryPair[] {
  const out: CanaryPair[] = [];
  for (let i = 0; i < pairs; i++) {
    const t = canaryTemplateFor(i);
    const n = String(i).padStart(3, "0");
    const make = (side: "a" | "b"): Canary => ({
      id: `${prefix}-c${n}${side}`,
      prompt: t.prompt(words.next()),
      answer: t.value(rng, words),
    });
    const a = make("a");
    const b = make("b");
    out.push({ id: `${prefix}-p${n}`, a, b });
  }
  return out;
}

/** Generates public edge facts, and a generator of idiosyncratic wrong answers for them. */
export function generateEdgeFacts(
  prefix: string,
  count: number,
  rng: Prng,
  words: PseudoWords,
): { facts: EdgeFact[]; wrong: (fact: EdgeFact, rng: Prng) => string } {
  const facts: EdgeFact[] = [];
  const templateOf = new Map<string, Template>();
  for (let i = 0; i < count; i++) {
    const t = EDGE_TEMPLATES[i % EDGE_TEMPLATES.length] as Template;
    const f = {
      id: `${prefix}-e${String(i).padStart(3, "0")}`,
      prompt: t.prompt(words.next()),
      reference: t.value(rng, words),
    };
    templateOf.set(f.id, t);
    facts.push(f);
  }
  const wrong = (fact: EdgeFact, r: Prng): string => {
    const t = templateOf.get(fact.id) as Template;
    for (;;) {
      const v = t.value(r, words);
      if (v !== fact.reference) return v;
    }
  };
  return { facts, wrong };
}
