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
  const { lower, spans, count } = tokenSpans(text);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = lower.slice(spans[2 * i], spans[2 * i + 1]);
  return out;
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

/** Token spans of a text, from {@link tokenSpans}. */
export interface TokenSpans {
  /** The text in normal form (NFKC, lower case, ’ folded to '): token i is `lower.slice(spans[2i], spans[2i + 1])`. */
  readonly lower: string;
  /** [start, end) of token i at 2i, 2i + 1; a scratch buffer valid until the next call. */
  readonly spans: Int32Array;
  readonly count: number;
  /** Whether the whole text is ASCII (then every token is, and its UTF-8 bytes are its char codes). */
  readonly ascii: boolean;
}

let spanScratch = new Int32Array(1024);

// TOKEN_RE's classes of the BMP code points met so far (0 = not yet classified), and of astral ones.
const BMP_CLASS = new Uint8Array(65536);
BMP_CLASS.set(ASCII_CLASS);
for (let c = 0; c < 128; c++) if (ASCII_CLASS[c] === 0) BMP_CLASS[c] = 4;
const ASTRAL_CLASS = new Map<number, number>();
const NON_ASCII = /[\u0080-\uffff]/; // any UTF-16 code unit above ASCII (surrogates included)
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;
const SPACE = /^\s$/u;

function classify(ch: string): number {
  if (LETTER_OR_DIGIT.test(ch)) return 1;
  if (ch === "-" || ch === "_" || ch === "." || ch === "'" || ch === "’") return 2;
  if (SPACE.test(ch)) return 3;
  return 4;
}

/** Class (1 letter/digit, 2 joiner, 3 space, 4 other) of the code point at s[i]; width in `w`. */
function classAt(s: string, i: number, n: number): number {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdfff) {
    let k = BMP_CLASS[c] as number;
    if (k === 0) {
      k = classify(String.fromCharCode(c));
      BMP_CLASS[c] = k;
    }
    return k;
  }
  const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
  if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
    const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
    let k = ASTRAL_CLASS.get(cp);
    if (k === undefined) {
      k = classify(String.fromCodePoint(cp));
      if (ASTRAL_CLASS.size < 4096) ASTRAL_CLASS.set(cp, k);
    }
    return k + 8; // + 8: two code units wide
  }
  return 4; // a lone surrogate is a code point of its own, neither letter, digit nor space
}

/**
 * The tokens of a text as spans of its normal form, in one pass over char codes without a string per
 * token: the same tokens as TOKEN_RE over the folded normal form (checked against
 * {@link tokenizeReference} in tokenize.test.ts and, on real outputs, in bench/sketch.ts). An ASCII
 * text needs no NFKC (the identity on ASCII). The spans are a shared scratch buffer: read them before
 * the next call.
 */
export function tokenSpans(text: string): TokenSpans {
  const ascii = !NON_ASCII.test(text);
  const lower = ascii ? text.toLowerCase() : text.normalize("NFKC").toLowerCase().replace(/’/g, "'");
  const n = lower.length;
  if (spanScratch.length < 2 * n) spanScratch = new Int32Array(2 * n);
  const spans = spanScratch;
  let count = 0;
  let i = 0;
  while (i < n) {
    const c = lower.charCodeAt(i);
    const kw = c < 0x80 ? (BMP_CLASS[c] as number) : classAt(lower, i, n);
    const k = kw & 7;
    const width = kw > 8 ? 2 : 1;
    if (k === 3) {
      i += width;
      continue;
    }
    const start = i;
    i += width;
    if (k === 1) {
      // A run of letters/digits, with an inner joiner taken only when a letter or digit follows it.
      while (i < n) {
        const x = lower.charCodeAt(i);
        const kx = x < 0x80 ? (ASCII_CLASS[x] as number) : classAt(lower, i, n);
        if ((kx & 7) === 1) {
          i += kx > 8 ? 2 : 1;
          continue;
        }
        if ((kx & 7) === 2 && i + 1 < n) {
          const y = lower.charCodeAt(i + 1);
          const ky = y < 0x80 ? (ASCII_CLASS[y] as number) : classAt(lower, i + 1, n);
          if ((ky & 7) === 1) {
            i += 1 + (ky > 8 ? 2 : 1);
            continue;
          }
        }
        break;
      }
    }
    spans[2 * count] = start;
    spans[2 * count + 1] = i;
    count++;
  }
  return { lower, spans, count, ascii };
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
