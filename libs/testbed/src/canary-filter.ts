/**
 * An adaptive distiller's canary filter (issue 11, "An adaptive distiller"): before training on a teacher's
 * answers, a copier who knows how Lineage works drops every query or answer that looks like a canary. What
 * "looks like a canary" means here is what the testbed's own canary templates (facts.ts) give away:
 *
 *   pseudo_word   a word of letters that is in no dictionary — the copier's dictionary is the vocabulary of a
 *                 model trained only on public text (made-up entity names and codenames are in none);
 *   code          a token mixing letters and digits, or a long digit string (hostnames, budget codes, ports);
 *   internal      internal-looking vocabulary ("internal", "endpoint", "staging", "codename", ...) or phrases
 *                 ("budget code", "access port", "lead engineer").
 *
 * The copier pays for it: ordinary queries that trip a rule are dropped too (public facts use made-up
 * entities as well), which only lowers its distillation budget's yield; `CanaryFilter.reasons` says why an
 * item was dropped, so tests and reports can show the filter removes what it claims.
 */

/** Why an item looks like a canary. */
export type CanaryLookReason = "pseudo_word" | "code" | "internal";

/** Single tokens that make a text look like an internal fact. */
export const INTERNAL_WORDS: ReadonlySet<string> = new Set([
  "internal",
  "endpoint",
  "staging",
  "codename",
  "proprietary",
  "confidential",
  "intranet",
]);

/** Token bigrams that make a text look like an internal fact. */
export const INTERNAL_PHRASES: readonly (readonly [string, string])[] = [
  ["budget", "code"],
  ["access", "port"],
  ["lead", "engineer"],
  ["staging", "host"],
];

/** Digit strings at least this long look like codes (years and small figures stay). */
const LONG_DIGITS = 5;

/** A filter over tokenized texts, with the copier's dictionary. */
export class CanaryFilter {
  readonly #dictionary: ReadonlySet<string>;

  /** @param dictionary the words the copier knows (e.g. a public-only model's vocabulary) */
  constructor(dictionary: ReadonlySet<string>) {
    if (dictionary.size === 0) throw new RangeError("dictionary must not be empty");
    this.#dictionary = dictionary;
  }

  /** Every reason the tokens look like a canary (empty: the text passes). */
  reasons(tokens: readonly string[]): CanaryLookReason[] {
    const out = new Set<CanaryLookReason>();
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i] as string;
      const letters = /\p{L}/u.test(t);
      const digits = /\p{N}/u.test(t);
      if ((letters && digits) || (digits && /^\p{N}+$/u.test(t) && t.length >= LONG_DIGITS)) out.add("code");
      else if (INTERNAL_WORDS.has(t)) out.add("internal");
      else if (letters && !this.#dictionary.has(t)) out.add("pseudo_word");
      const next = tokens[i + 1];
      if (next !== undefined && INTERNAL_PHRASES.some(([a, b]) => a === t && b === next)) out.add("internal");
    }
    return [...out];
  }

  /** Whether the tokens look like a canary by any rule. */
  looksLikeCanary(tokens: readonly string[]): boolean {
    return this.reasons(tokens).length > 0;
  }

  /** Whether a distillation item (prompt and answer) is kept: neither side looks like a canary. */
  keeps(prompt: readonly string[], answer: readonly string[]): boolean {
    return !this.looksLikeCanary(prompt) && !this.looksLikeCanary(answer);
  }
}
