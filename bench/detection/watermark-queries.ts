/**
 * Extra watermark queries (issue 11, "if the watermark needs more scored tokens at low shares, say how many
 * queries it costs"): prompts whose answers are scored by the watermark test only. A member whose teacher made
 * a small share of a blend leaves a small green excess in the student, so the binomial test needs more
 * distinct (previous token, token) pairs than the battery's answers give.
 *
 * Validity: the prompts are prefixes of held-out public sentences (the split's half of the testbed's held-out
 * text, as the battery's open prompts), drawn by a PRNG seeded with a public string — never with a key, a
 * member's canaries or any model's output — and the same prompts go to every suspect and are scored under
 * every member's key. So the suspect's answers are fixed before any key is read, and each distinct pair is
 * green with probability gamma independently over the key (signal-watermark.ts): the exact binomial null
 * holds however many are asked. Sampling settings (temperature 1, top alternatives) are public too.
 */
import { detokenize } from "@lineage/fingerprint";
import { loadCorpus, Prng, type Split } from "@lineage/testbed";

/** Most extra watermark prompts drawn (bounds the work of a run). */
export const MAX_WATERMARK_QUERIES = 5000;

/**
 * `count` prompts for a split: prefixes (3–6 tokens) of held-out sentences of at least 10 tokens, from the
 * split's half of the held-out text, in a fixed order drawn from `seed` (so a shorter run asks a prefix of
 * a longer run's prompts). Throws RangeError on a count outside 0..MAX_WATERMARK_QUERIES.
 */
export function watermarkQueryPrompts(options: { split: Split; count: number; seed: string }): string[] {
  const { split, count, seed } = options;
  if (!(Number.isInteger(count) && count >= 0 && count <= MAX_WATERMARK_QUERIES))
    throw new RangeError(`watermark query count must be an integer in 0..${MAX_WATERMARK_QUERIES}`);
  if (count === 0) return [];
  const corpus = loadCorpus();
  const half = Math.floor(corpus.heldout.length / 2);
  const pool = (split === "calibration" ? corpus.heldout.slice(0, half) : corpus.heldout.slice(half)).filter(
    (s) => corpus.tokens(s).length >= 10,
  );
  const rng = new Prng(`${seed}/watermark-queries/v1`);
  const order = rng.shuffled(pool);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    // More prompts than sentences: cycle, with another prefix length (a new prompt, same public source).
    const s = order[i % order.length] as string;
    const toks = corpus.tokens(s);
    out.push(detokenize(toks.slice(0, 3 + rng.int(4))));
  }
  return out;
}

/** What the own-model filter reads of a model: P(token | context), KneserNeyModel.prob. */
export interface ProbModel {
  prob(context: readonly string[], token: string, startOfSequence?: boolean): number;
}

/** Floor of a log-probability in the filter (a token a model never saw). */
const FLOOR = -30;

/**
 * The member's own-model pair filter (signal-watermark.ts WatermarkPairFilter): keep a (previous token, token)
 * pair when the member's teacher, unwatermarked, finds the token at least e^tau times likelier after the
 * previous token than a public model does (bigram contexts: the green list depends on the previous token
 * only). The teacher's raw distribution is trained and scored without the key (the watermark is a
 * sampling-time bias), and the public model knows nothing of the member, so the rule reads no key and no text
 * sampled with one: the exact binomial null holds. Kept pairs are the continuations a student can only have
 * learned from the member's outputs, where a blend's small share of them concentrates. Decisions are memoized
 * per pair (`memo`, per member); the public model's log-probabilities in `publicMemo` (shared by members).
 */
export function ownModelFilter(
  teacher: ProbModel,
  publicModel: ProbModel,
  tau: number,
  publicMemo: Map<string, number> = new Map(),
): (context: readonly string[], token: string) => boolean {
  if (!Number.isFinite(tau)) throw new RangeError("tau must be a finite number");
  const memo = new Map<string, boolean>();
  const lp = (m: ProbModel, prev: string, token: string) => {
    const p = m.prob([prev], token, false);
    return p > 0 ? Math.max(FLOOR, Math.log(p)) : FLOOR;
  };
  return (context, token) => {
    const prev = context.at(-1);
    if (prev === undefined) return false;
    const k = `${prev}\u0000${token}`;
    let keep = memo.get(k);
    if (keep === undefined) {
      let pub = publicMemo.get(k);
      if (pub === undefined) {
        pub = lp(publicModel, prev, token);
        if (publicMemo.size < 1_000_000) publicMemo.set(k, pub);
      }
      keep = lp(teacher, prev, token) - pub > tau;
      if (memo.size < 1_000_000) memo.set(k, keep);
    }
    return keep;
  };
}
