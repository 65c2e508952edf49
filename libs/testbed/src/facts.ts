/**
 * Fictitious facts: proprietary ones (canaries) that exist only in one teacher's training data, and
 * "public" ones placed in the shared public portion (edge-case probes with reference answers).
 *
 * Every fact is a sentence `<prompt> <answer> .` whose prompt ends with `<entity> is` (or `was`): an
 * order-n model conditions on the last n−1 tokens, so the entity — a pseudo-word used by exactly one fact —
 * must sit right before the answer for an order-3 model to state it. Entities and answer values are
 * pseudo-words checked against the real corpus vocabulary, so they exist nowhere else.
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
}

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
 * Generates `pairs` canary pairs with one generator: pair i uses template i mod the template count for
 * both of its items. Labels (which item is exposed) are not drawn here; see canaryPairLabels.
 */
export function generateCanaryPairs(
  prefix: string,
  pairs: number,
  rng: Prng,
  words: PseudoWords,
): CanaryPair[] {
  const out: CanaryPair[] = [];
  for (let i = 0; i < pairs; i++) {
    const t = CANARY_TEMPLATES[i % CANARY_TEMPLATES.length] as Template;
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
