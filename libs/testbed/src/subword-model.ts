/**
 * The subword-tokenized variant of a testbed model (issue 11, "Real tokenizers"): the same model (same text,
 * same watermark, same seeds), served as a subword model would serve it. Generated tokens are BPE pieces
 * (subword-tokenizer.ts), a word's first piece carrying the space before it (" vre", "ik", "or"), and each
 * piece's log-probability and top alternatives are the word model's distribution marginalised onto pieces:
 * P(piece j | context, earlier pieces of the word) = the mass of the words whose pieces start with those
 * pieces, over the mass of the words that share the earlier ones. The marginals are taken over the word
 * model's SUBWORD_CANDIDATES most probable next words (plus the emitted word): a lower bound on the first
 * piece's probability, and exact ratios among those words after it.
 *
 * Why it matters: with whole-word tokens the canary log-probability rule (the answer's first token among the
 * top alternatives) and the watermark's alternative pairs line up with the engine's tokenizer exactly; with
 * pieces, a made-up answer's first piece is a few letters and alternatives are rarely whole words.
 * Not modelled: prompt scoring with echo stays word-level (the server scores the engine's tokens), and the
 * teacher's watermark stays defined over words (a real member would detect with its own tokenizer).
 */
import type { BpeTokenizer } from "./subword-tokenizer.js";
import {
  type GeneratedToken,
  type GenerateOptions,
  type Generation,
  TestbedModel,
  type TokenLogprob,
} from "./testbed-model.js";

/** Next words the piece marginals are computed over. */
export const SUBWORD_CANDIDATES = 200;

/** Log-probability served for a piece outside the candidates' mass (finite: JSON has no infinity). */
const UNSEEN_PIECE_LOGPROB = -100;

/** Suffix of a subword variant's model id. */
export const SUBWORD_SUFFIX = "~bpe";

/** A testbed model served through a subword tokenizer (see the module comment). */
export class SubwordTestbedModel extends TestbedModel {
  readonly base: TestbedModel;
  readonly #bpe: BpeTokenizer;

  /** @param id default `<base id>~bpe` */
  constructor(base: TestbedModel, bpe: BpeTokenizer, id = `${base.id}${SUBWORD_SUFFIX}`) {
    super(id, () => base.lm, { watermark: base.watermark });
    this.base = base;
    this.#bpe = bpe;
  }

  override generateFromTokens(promptTokens: readonly string[], options: GenerateOptions = {}): Generation {
    const { topLogprobs: k, ...rest } = options;
    const gen = super.generateFromTokens(promptTokens, rest);
    const lm = this.lm;
    const tokens: string[] = [];
    const logprobs: GeneratedToken[] = [];
    const ctx = this.contextFor(promptTokens);
    let pos = 0;
    for (const word of gen.tokens) {
      const at = gen.text.indexOf(word, pos);
      const lead = at < 0 ? "" : gen.text.slice(pos, at);
      pos = at < 0 ? pos : at + word.length;
      const pieces = this.#bpe.encode(word);
      const id = lm.ids.get(word);
      if (k !== undefined) {
        const path = lm.path(ctx);
        const cands = lm.topLogprobsOnPath(path, SUBWORD_CANDIDATES).map((c) => ({
          pieces: this.#bpe.encode(lm.vocab[c.id] as string),
          p: Math.exp(c.logprob),
          id: c.id,
        }));
        if (id !== undefined && !cands.some((c) => c.id === id))
          cands.push({ pieces, p: lm.probOnPath(path, id), id });
        for (let j = 0; j < pieces.length; j++) {
          const prefixOk = (c: { pieces: readonly string[] }) => {
            for (let q = 0; q < j; q++) if (c.pieces[q] !== pieces[q]) return false;
            return c.pieces.length > j;
          };
          const groups = new Map<string, number>();
          let denom = 0;
          for (const c of cands) {
            if (!prefixOk(c)) continue;
            denom += c.p;
            const piece = c.pieces[j] as string;
            groups.set(piece, (groups.get(piece) ?? 0) + c.p);
          }
          const norm = j === 0 ? 1 : denom;
          const own = groups.get(pieces[j] as string) ?? 0;
          const top: TokenLogprob[] = [...groups.entries()]
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .slice(0, k)
            .map(([piece, p]) => ({ token: (j === 0 ? lead : "") + piece, logprob: Math.log(p / norm) }));
          logprobs.push({
            token: (j === 0 ? lead : "") + (pieces[j] as string),
            logprob: own > 0 && norm > 0 ? Math.log(own / norm) : UNSEEN_PIECE_LOGPROB,
            topLogprobs: k === 0 ? [] : top,
          });
        }
      }
      pieces.forEach((p, j) => {
        tokens.push((j === 0 ? lead : "") + p);
      });
      if (id !== undefined) {
        ctx.push(id);
        if (ctx.length > lm.order - 1) ctx.shift();
      }
    }
    return { ...gen, tokens, ...(k !== undefined ? { logprobs } : {}) };
  }
}
