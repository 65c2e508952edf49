/**
 * The one tokenizer every part of Lineage uses on text: the testbed models are trained on its tokens,
 * the watermark is defined over them, and sketches shingle them. Changing it changes every sketch and
 * every watermark decision, so it is versioned with the sketch definition (see TOKENIZER_VERSION).
 *
 * Tokens: lower-cased runs of letters/digits that may contain inner `-`, `_`, `.` or `'` joined to
 * more letters/digits (so `zx-4471.corp` and `don't` stay whole), and every other non-space character
 * as a token of its own (punctuation carries style).
 */
export const TOKENIZER_VERSION = 1;

const TOKEN_RE = /[\p{L}\p{N}]+(?:[-_.'’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/** Splits text into Lineage tokens (see the module comment). Pure; never throws. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").toLowerCase().matchAll(TOKEN_RE)) {
    out.push(m[0].replace(/’/g, "'"));
  }
  return out;
}

/** Joins tokens back into readable text: no space before closing punctuation or after opening. */
export function detokenize(tokens: readonly string[]): string {
  let out = "";
  for (const t of tokens) {
    if (out === "" || /^[.,;:!?%)\]}]$/.test(t) || out.endsWith("(") || out.endsWith("[")) out += t;
    else out += ` ${t}`;
  }
  return out;
}
