/**
 * A small list of offensive words (slurs and strong profanity). Lines containing any of them are dropped
 * from the corpora (nlp-corpus deliberately includes such text), so no testbed model ever says them.
 * Matching is per token, on whole tokens and on a few stems that inflect.
 */
const WORDS = new Set([
  "fuck",
  "fucks",
  "fucked",
  "fucking",
  "fucker",
  "fuckers",
  "motherfucker",
  "motherfuckers",
  "motherfucking",
  "shit",
  "shits",
  "shitty",
  "bullshit",
  "cunt",
  "cunts",
  "bitch",
  "bitches",
  "bitchin",
  "whore",
  "whores",
  "slut",
  "sluts",
  "dick",
  "dicks",
  "cock",
  "cocks",
  "pussy",
  "pussies",
  "nigga",
  "niggas",
  "nigger",
  "niggers",
  "niggaz",
  "faggot",
  "faggots",
  "fag",
  "fags",
  "retard",
  "retarded",
  "tranny",
  "spic",
  "chink",
  "kike",
  "wetback",
  "twat",
  "wank",
  "wanker",
  "bastard",
  "bastards",
  "asshole",
  "assholes",
  "rape",
  "raped",
  "rapist",
  "hoe",
  "hoes",
  "jizz",
  "cum",
  "porn",
  "dyke",
  "coon",
  "gook",
]);
const STEMS = ["fuck", "nigg", "fagg", "cunt", "shit"];

/** Whether a tokenized line contains an offensive word. */
export function isOffensive(tokens: readonly string[]): boolean {
  for (const t of tokens) {
    if (WORDS.has(t)) return true;
    for (const s of STEMS) if (t.startsWith(s)) return true;
  }
  return false;
}
