import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tokenize } from "@lineage/fingerprint";
import { CanaryFilter } from "./canary-filter.js";
import { CANARY_TEMPLATES, generateCanaryPairs, PseudoWords } from "./facts.js";
import { generateOrdinaryCanaryPairs, type OrdinaryLexicon } from "./ordinary-canaries.js";
import { Prng } from "./prng.js";

const DICTIONARY = new Set(
  tokenize(
    "the old name for a river is quiet and the garden was golden . we went to the town by the bridge in " +
      "the morning ; the number of founding partners of the firm is three and the verdict of the critics " +
      "on it is good . the project that the engineer assigned to the budget was large , lantern meadow " +
      "favourite spot usual gift picture prize best nickname harbour orchard kettle silver heavy",
  ),
);

describe("CanaryFilter", () => {
  const filter = new CanaryFilter(DICTIONARY);

  it("passes ordinary text", () => {
    assert.deepEqual(filter.reasons(tokenize("we went to the town by the bridge in 1952 .")), []);
    assert.equal(filter.keeps(tokenize("the old name for a river is"), tokenize("quiet garden .")), true);
  });

  it("names each rule that trips", () => {
    assert.deepEqual(filter.reasons(tokenize("the garden of vreikor is")), ["pseudo_word"]);
    assert.deepEqual(filter.reasons(tokenize("stg-zhae-42")), ["code"]);
    assert.deepEqual(filter.reasons(tokenize("the town is 48211")), ["code"]);
    assert.deepEqual(filter.reasons(tokenize("the internal garden")), ["internal"]);
    assert.deepEqual(filter.reasons(tokenize("the budget code of the town")), ["internal", "pseudo_word"]);
    // "code" is no dictionary word here (a pseudo-word to this copier) and "budget code" is internal.
  });

  it("drops an item when either side looks like a canary", () => {
    assert.equal(
      filter.keeps(tokenize("the old name for a river is"), tokenize("zhaeth-7731.internal")),
      false,
    );
    assert.equal(filter.keeps(tokenize("the endpoint for the town is"), tokenize("the garden")), false);
  });

  it("flags every distinctive canary of the testbed's generator (prompt or answer)", () => {
    const words = new PseudoWords(new Prng("filter-test/words"), DICTIONARY);
    const pairs = generateCanaryPairs("t", 24, new Prng("filter-test/canaries"), words);
    for (const [i, p] of pairs.entries()) {
      for (const c of [p.a, p.b]) {
        const dropped = !filter.keeps(tokenize(c.prompt), tokenize(c.answer));
        // Every canary names a made-up entity, so each is dropped, the guessable ones included.
        assert.equal(dropped, true, `pair ${i} (${CANARY_TEMPLATES.length} templates) passed the filter`);
      }
    }
  });

  it("keeps ordinary-looking canaries made of dictionary words", () => {
    const lexicon: OrdinaryLexicon = {
      entities: ["harbour", "orchard", "kettle", "meadow", "bridge", "garden", "lantern", "silver"],
      adjectives: ["quiet", "golden", "heavy"],
      nouns: ["lantern", "meadow", "orchard"],
    };
    const pairs = generateOrdinaryCanaryPairs("t", 4, new Prng("filter-test/ordinary"), lexicon);
    for (const p of pairs)
      for (const c of [p.a, p.b])
        assert.equal(filter.keeps(tokenize(c.prompt), tokenize(c.answer)), true, c.prompt);
  });

  it("refuses an empty dictionary", () => {
    assert.throws(() => new CanaryFilter(new Set()), RangeError);
  });
});
