/**
 * Signal 5, panel-relative form: watermark radioactivity judged against a panel of unrelated models
 * (Sander et al., "Watermarking Makes Language Models Radioactive", 2024; green-list rule of
 * watermark-green-list.ts).
 *
 * Why not the plain binomial null of signal-watermark.ts. "Each distinct pair is green with probability
 * gamma" holds on average over random keys, but a member has one fixed key. Models trained on shared
 * public text emit the same common (previous token, token) pairs, and whichever of those happen to be
 * green under this key push every such model up together: on the testbed, unrelated models have median
 * z ~ 1.7 and about one in five falls below p = 0.01.
 *
 * Pairs. As in signal-watermark.ts: the distinct (previous token, token) pairs of each model's texts,
 * plus (previous emitted token, alternative) for every served top alternative that is exactly one Lineage
 * token (the first position's previous token is the prompt's last token).
 *
 * Distinctive pairs. Of the k = 1 + panel models (suspect and panel), a model's distinctive pairs are
 * those no other of the k models produces. Common public-text pairs, which carry the shared bias, are
 * thereby dropped from every model alike; a student of the watermarking teacher keeps the pairs it
 * learnt from the teacher's (green-biased) outputs, which unrelated models do not produce.
 *
 * Null ("the suspect is exchangeable with the panel's unrelated models with respect to the key"): the
 * suspect's distinctive pairs are green no more often than the panel's distinctive pairs, or no more often
 * than gamma. Two exact one-sided tests, both of which must reject (an intersection-union test, so the
 * p-value is the larger of the two, valid without correction):
 *   panel  Fisher's exact test (hypergeometric tail) of the suspect's green count g_s of n_s distinctive
 *          pairs against the pooled panel's g_p of n_p: given g_s + g_p green among n_s + n_p pairs, the
 *          chance that n_s drawn at random hold >= g_s green. Under exchangeability every distinctive pair
 *          of the k models is green with the same probability whatever the key did to them, so this is
 *          calibrated for the one fixed key a member has — residual shared bias raises the panel's share
 *          as much as the suspect's.
 *   gamma  the exact binomial tail of g_s against Binomial(n_s, gamma) (the suspect must also be greener
 *          than a keyless model; guards against a panel that happens to be redder than gamma).
 * Pairs are counted once per model (repetition inflates naive counts; Fernandez et al. 2023). Tried and
 * not adopted (testbed calibration split): a p-value maximised over each panel model separately (too
 * conservative: no unrelated suspect below p = 0.05 and direct students only at 1e-4..1e-6, each panel
 * model holding a few dozen distinctive pairs), and a pooled-panel test over all pairs without the
 * exclusion (weaker students, 1e-6..1e-9). Effect: (suspect's distinctive green share - the larger of
 * the pooled panel's and gamma) / (1 - gamma), clamped to [-1, 1].
 */
import { FingerprintError } from "../fingerprint-error.js";
import { binomialUpperTail, hypergeometricUpperTail } from "../stats/stats-exact.js";
import type { SignalResult } from "./signal-types.js";
import { unavailableSignal } from "./signal-types.js";
import { GreenPairs, type WatermarkResponse, watermarkPairs } from "./signal-watermark.js";

/** Most panel models read (bounds work on untrusted input; the engine's panels are far smaller). */
export const MAX_WATERMARK_PANEL = 64;

/** Options of the panel-relative watermark test. */
export interface WatermarkPanelOptions {
  /** Fewest distinctive pairs the suspect, and the pooled panel, must have (default 50). */
  readonly minPairs?: number;
  /** Fewest panel models (default 2; one panel model gives a weak, noisy reference). */
  readonly minPanel?: number;
}

/**
 * Panel-relative watermark radioactivity test (see the module comment for the null). `suspect` and each
 * `panel[j]` are one model's responses to the same battery (texts, or responses with their prompts and
 * served log-probabilities — give every model the same kind); `key` is the member's key and never leaves
 * this call. Unavailable without a key, with fewer than `minPanel` panel models, or when the suspect or the
 * pooled panel has fewer than `minPairs` distinctive pairs. Throws FingerprintError INVALID_ARGUMENT on a
 * gamma outside (0, 1), non-positive-integer options, or more than MAX_WATERMARK_PANEL panel models.
 */
export function watermarkPanelSignal(
  suspect: readonly (string | WatermarkResponse)[],
  panel: readonly (readonly (string | WatermarkResponse)[])[],
  key: Uint8Array | undefined,
  gamma = 0.25,
  options: WatermarkPanelOptions = {},
): SignalResult {
  const minPairs = options.minPairs ?? 50;
  const minPanel = options.minPanel ?? 2;
  if (!(gamma > 0 && gamma < 1)) {
    throw new FingerprintError("INVALID_ARGUMENT", `watermark gamma must be in (0, 1), got ${gamma}`);
  }
  if (!Number.isInteger(minPairs) || minPairs < 1 || !Number.isInteger(minPanel) || minPanel < 1) {
    throw new FingerprintError("INVALID_ARGUMENT", "minPairs and minPanel must be positive integers");
  }
  if (!key) return unavailableSignal("watermark", "no watermark key for this member");
  if (panel.length < minPanel) {
    return unavailableSignal("watermark", `fewer than ${minPanel} panel models for the watermark test`);
  }
  if (panel.length > MAX_WATERMARK_PANEL) {
    throw new FingerprintError("INVALID_ARGUMENT", `more than ${MAX_WATERMARK_PANEL} panel models`);
  }
  const sets = [watermarkPairs(suspect), ...panel.map((p) => watermarkPairs(p))];
  // How many of the k models produce each pair; distinctive = produced by exactly one.
  const count = new Map<string, number>();
  for (const s of sets) for (const p of s) count.set(p, (count.get(p) ?? 0) + 1);
  const judge = new GreenPairs(key, gamma);
  const tally = (s: Set<string>): { n: number; g: number } => {
    let n = 0;
    let g = 0;
    for (const p of s) {
      if (count.get(p) !== 1) continue;
      n++;
      if (judge.isGreen(p)) g++;
    }
    return { n, g };
  };
  const [sus, ...pan] = sets.map(tally);
  if (!sus || sus.n < minPairs) {
    return unavailableSignal("watermark", `suspect has fewer than ${minPairs} distinctive token pairs`);
  }
  let pn = 0;
  let pg = 0;
  for (const t of pan) {
    pn += t.n;
    pg += t.g;
  }
  if (pn < minPairs) {
    return unavailableSignal("watermark", `the panel has fewer than ${minPairs} distinctive token pairs`);
  }
  const pGamma = binomialUpperTail(sus.g, sus.n, gamma);
  const pPanel = hypergeometricUpperTail(sus.g, sus.n + pn, sus.g + pg, sus.n);
  const panelShare = pg / pn;
  const z = (sus.g - gamma * sus.n) / Math.sqrt(sus.n * gamma * (1 - gamma));
  return {
    name: "watermark",
    available: true,
    statistic: z,
    p_value: Math.max(pGamma, pPanel),
    effect: Math.max(-1, Math.min(1, (sus.g / sus.n - Math.max(gamma, panelShare)) / (1 - gamma))),
    detail: {
      test: "panel",
      pairs: sus.n,
      green: sus.g,
      gamma,
      z: Number(z.toFixed(3)),
      panel_models: pan.length,
      panel_pairs: pn,
      panel_green: pg,
      p_gamma: pGamma,
      p_panel: pPanel,
    },
  };
}
