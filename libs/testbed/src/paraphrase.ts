/**
 * A paraphraser, as a copier would put a teacher's outputs through before training on them to hide the
 * copy: synonym substitution from a table, local reordering (clauses around a comma, "x and y"), and
 * rewording of short spans by an independent model (a model trained only on public text continues the
 * sentence for 1–3 tokens in place of the original span). Like a real paraphraser it keeps what it does
 * not recognise — tokens outside the independent model's vocabulary (names, codes, figures) are never
 * rewritten, so facts survive while surface form changes.
 */
import { BOS_ID, type KneserNeyModel } from "./kneser-ney.js";
import type { Prng } from "./prng.js";

const PAIRS: readonly [string, string][] = [
  ["big", "large"],
  ["small", "little"],
  ["said", "stated"],
  ["begin", "start"],
  ["began", "started"],
  ["help", "assist"],
  ["helped", "assisted"],
  ["buy", "purchase"],
  ["show", "demonstrate"],
  ["shows", "demonstrates"],
  ["often", "frequently"],
  ["quickly", "rapidly"],
  ["maybe", "perhaps"],
  ["about", "roughly"],
  ["also", "additionally"],
  ["but", "however"],
  ["get", "obtain"],
  ["got", "obtained"],
  ["need", "require"],
  ["needs", "requires"],
  ["use", "employ"],
  ["used", "employed"],
  ["many", "numerous"],
  ["very", "highly"],
  ["important", "significant"],
  ["enough", "sufficient"],
  ["think", "believe"],
  ["thought", "believed"],
  ["end", "finish"],
  ["ended", "finished"],
  ["house", "home"],
  ["car", "automobile"],
  ["kids", "children"],
  ["tell", "inform"],
  ["told", "informed"],
  ["answer", "reply"],
  ["hard", "difficult"],
  ["easy", "simple"],
  ["fast", "swift"],
  ["old", "aged"],
  ["new", "recent"],
  ["whole", "entire"],
  ["seem", "appear"],
  ["seems", "appears"],
  ["seemed", "appeared"],
  ["try", "attempt"],
  ["tried", "attempted"],
  ["place", "location"],
  ["job", "occupation"],
  ["city", "town"],
  ["world", "globe"],
  ["people", "persons"],
  ["man", "gentleman"],
  ["woman", "lady"],
  ["almost", "nearly"],
  ["enormous", "huge"],
  ["chief", "principal"],
  ["country", "nation"],
  ["government", "administration"],
  ["however", "nevertheless"],
  ["because", "since"],
  ["while", "whereas"],
  ["mostly", "largely"],
  ["area", "region"],
  ["idea", "notion"],
  ["money", "funds"],
  ["rich", "wealthy"],
  ["poor", "impoverished"],
  ["happy", "glad"],
  ["sad", "unhappy"],
  ["angry", "furious"],
  ["look", "glance"],
  ["looked", "glanced"],
  ["went", "headed"],
  ["come", "arrive"],
  ["came", "arrived"],
];
const SYNONYMS = new Map<string, string>();
for (const [a, b] of PAIRS) {
  SYNONYMS.set(a, b);
  SYNONYMS.set(b, a);
}

/** Strength of each transformation. */
export interface ParaphraseOptions {
  /** Probability that a word with a table synonym is replaced. */
  readonly synonymRate: number;
  /** Probability that a sentence's clauses / "x and y" pairs are swapped. */
  readonly reorderRate: number;
  /** Per-position probability of rewording a short span with the independent model. */
  readonly rewordRate: number;
  /** The independent (public-only) model used for rewording. */
  readonly rewordModel: KneserNeyModel;
}

/** Paraphrases one tokenized text. Deterministic given the generator state. */
export function paraphrase(tokens: readonly string[], opts: ParaphraseOptions, rng: Prng): string[] {
  let out = tokens.map((t) => {
    const s = SYNONYMS.get(t);
    return s !== undefined && rng.chance(opts.synonymRate) ? s : t;
  });
  // Local reordering: swap the clauses around one inner comma, or the two sides of "x and y".
  if (rng.chance(opts.reorderRate)) {
    const last = out[out.length - 1];
    const end = last === "." || last === "!" || last === "?" ? out.length - 1 : out.length;
    const comma = out.indexOf(",");
    if (comma >= 3 && end - comma >= 4) {
      out = [...out.slice(comma + 1, end), ",", ...out.slice(0, comma), ...out.slice(end)];
    } else {
      const and = out.indexOf("and");
      if (and > 0 && and < end - 1) {
        const a = out[and - 1] as string;
        out[and - 1] = out[and + 1] as string;
        out[and + 1] = a;
      }
    }
  }
  // Rewording by the independent model over spans it recognises.
  const m = opts.rewordModel;
  const ids = m.ids;
  const res: string[] = [];
  for (let i = 0; i < out.length; ) {
    const span = 1 + rng.int(3);
    const known = i > 0 && out.slice(i, i + span).every((t) => ids.has(t) && /^\p{L}/u.test(t));
    if (known && i + span < out.length && rng.chance(opts.rewordRate)) {
      const ctx = [BOS_ID, BOS_ID, ...res.map((t) => ids.get(t) ?? -1)];
      const { ids: gen } = m.sampleIds(ctx, { temperature: 0.8, maxTokens: span, rng });
      if (gen.length === span) {
        for (const g of gen) res.push(m.vocab[g] as string);
        i += span;
        continue;
      }
    }
    res.push(out[i] as string);
    i++;
  }
  return res;
}
