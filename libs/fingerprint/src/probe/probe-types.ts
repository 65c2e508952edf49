/**
 * The domain types of probing: the epoch battery, a member's canary set, a model's responses and the
 * private fingerprint that collects them. See DESIGN.md ("Epoch battery", "Fingerprint", "Canary set").
 */

/**
 * One probe of the battery. `edge` probes carry a `reference` answer (to spot shared wrong answers),
 * `open` probes show style and phrasing, `completion` probes show token distributions where
 * log-probabilities are served.
 */
export interface Probe {
  readonly id: string;
  readonly kind: "edge" | "open" | "completion";
  readonly prompt: string;
  readonly reference?: string;
}

/** The alliance-wide probe set of an epoch. */
export interface Battery {
  readonly epoch: string;
  readonly probes: readonly Probe[];
}

/** A private fact only the member's models (or copies of them) know. */
export interface Canary {
  readonly id: string;
  readonly prompt: string;
  readonly answer: string;
}

/**
 * One committed canary pair: two items made by the same generator, of which exactly one (`exposed`) was put
 * in the member's training data. Which one is NOT the member's choice: it is derived from the log (the first
 * signed checkpoint after the pair was committed) by libs/crypto's label function, outside the engine; the
 * engine receives pairs already labelled. Because the label is a fair coin nobody chose after seeing the
 * suspect, a suspect that never learned from the member hits the exposed item of a discordant pair with
 * probability exactly 1/2 — the null of the paired (McNemar) canary test (signal-canary.ts).
 */
export interface CanaryPair {
  readonly id: string;
  readonly exposed: Canary;
  readonly decoy: Canary;
}

/** A member's committed canary pairs, labelled (see CanaryPair). */
export interface CanarySet {
  readonly memberId: string;
  readonly pairs: readonly CanaryPair[];
}

/** One alternative at a token position, with its natural-log probability. */
export interface TopLogprob {
  readonly token: string;
  readonly logprob: number;
}

/**
 * One token position: the token (emitted, or the prompt's own when the prompt was scored) and, where
 * served, the top alternatives the model gave for that position. `offset` is the character offset of a
 * scored prompt token in the prompt (so positions of models with different tokenizers can be aligned).
 */
export interface TokenLogprobs {
  readonly token: string;
  readonly logprob?: number;
  readonly top: readonly TopLogprob[];
  readonly offset?: number;
}

/**
 * One response of a model. `tokens` is present only when the server returned log-probabilities;
 * `promptTokens` only when it also scored the prompt (completion probes asked with echo): the prompt's
 * tokens, each with the model's top alternatives given the tokens before it (the first has none).
 */
export interface ModelResponse {
  readonly text: string;
  readonly tokens?: readonly TokenLogprobs[];
  readonly promptTokens?: readonly TokenLogprobs[];
}

/** A model's responses to a battery, keyed by probe id: the private fingerprint kept on the member node. */
export interface Fingerprint {
  readonly version: 1;
  readonly epoch: string;
  readonly model: string;
  readonly responses: Readonly<Record<string, ModelResponse>>;
  /** Queries spent producing it. */
  readonly queries: number;
}
