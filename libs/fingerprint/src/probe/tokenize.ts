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
  return tokenizeAscii(text) ?? tokenizeGeneral(text);
}

/**
 * Every text that is not pure ASCII takes this path: NFKC, lower case, the curly apostrophe folded,
 * then TOKEN_RE. Folding before matching gives the same tokens as folding each match (the
 * definition, {@link tokenizeReference}): ' and ’ are in the same classes of TOKEN_RE.
 */
function tokenizeGeneral(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().replace(/’/g, "'").match(TOKEN_RE) ?? [];
}

/**
 * The definition of the tokens, kept as written (one match at a time, each folded): tokenize must
 * equal it on every text (tokenize.test.ts, bench/sketch.ts on real outputs). Slow; not for use.
 */
export function tokenizeReference(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").toLowerCase().matchAll(TOKEN_RE)) {
    out.push(m[0].replace(/’/g, "'"));
  }
  return out;
}

// ASCII character classes of TOKEN_RE: 1 = letter or digit, 2 = inner joiner (- _ . '), 3 = \s
// (tab, LF, VT, FF, CR, space); 0 = any other character (a token of its own).
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) ASCII_CLASS[c] = 1;
  else if (c === 0x2d || c === 0x5f || c === 0x2e || c === 0x27) ASCII_CLASS[c] = 2;
  else if ((c >= 0x09 && c <= 0x0d) || c === 0x20) ASCII_CLASS[c] = 3;
}

/** Token spans of a pure-ASCII text, from {@link asciiTokenSpans}. */
export interface AsciiTokenSpans {
  /** The text lower-cased (each token is `lower.slice(spans[2i], spans[2i + 1])`). */
  readonly lower: string;
  /** [start, end) of token i at 2i, 2i + 1; a scratch buffer valid until the next call. */
  readonly spans: Int32Array;
  readonly count: number;
}

let spanScratch = new Int32Array(1024);

/**
 * The tokens of a pure-ASCII text as spans of its lower-cased form, in one char-code pass without a
 * string per token (NFKC is the identity on ASCII, lower casing maps only A-Z, and TOKEN_RE's classes
 * restricted to ASCII are ASCII_CLASS); null when the text has a non-ASCII character. The spans are a
 * shared scratch buffer: read them before the next call. Checked against tokenizeReference in
 * tokenize.test.ts.
 */
export function asciiTokenSpans(text: string): AsciiTokenSpans | null {
  const n = text.length;
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) > 0x7f) return null;
  const lower = text.toLowerCase();
  if (spanScratch.length < 2 * n) spanScratch = new Int32Array(2 * n);
  const spans = spanScratch;
  let count = 0;
  let i = 0;
  while (i < n) {
    const k = ASCII_CLASS[lower.charCodeAt(i)] as number;
    if (k === 3) {
      i++;
      continue;
    }
    const start = i;
    i++;
    if (k === 1) {
      for (;;) {
        while (i < n && ASCII_CLASS[lower.charCodeAt(i)] === 1) i++;
        // An inner joiner belongs to the token only when a letter or digit follows it.
        if (
          i + 1 < n &&
          ASCII_CLASS[lower.charCodeAt(i)] === 2 &&
          ASCII_CLASS[lower.charCodeAt(i + 1)] === 1
        ) {
          i += 2;
          continue;
        }
        break;
      }
    }
    spans[2 * count] = start;
    spans[2 * count + 1] = i;
    count++;
  }
  return { lower, spans, count };
}

function tokenizeAscii(text: string): string[] | null {
  const t = asciiTokenSpans(text);
  if (t === null) return null;
  const out: string[] = new Array(t.count);
  for (let i = 0; i < t.count; i++) out[i] = t.lower.slice(t.spans[2 * i], t.spans[2 * i + 1]);
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
