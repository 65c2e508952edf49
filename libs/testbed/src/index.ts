/** Real small language models with known lineage, for tests and benchmarks. */

export {
  ATTACKS,
  ATTACKS_VERSION,
  type Attack,
  ordinaryVariantId,
  SCRUB_RATE,
  SCRUB_THRESHOLD,
  sampleWithTopP,
  scrubLikelyGreen,
} from "./attacks.js";
export { CanaryFilter, type CanaryLookReason, INTERNAL_PHRASES, INTERNAL_WORDS } from "./canary-filter.js";
export {
  CORPUS_VERSION,
  type Corpus,
  GENRE_GROUP_NAMES,
  GENRE_GROUPS,
  type GenreGroup,
  loadCorpus,
} from "./corpus.js";
export { type Canary, type CanaryPair, type EdgeFact, factSentence } from "./facts.js";
export {
  BOS,
  CANDIDATES_PER_LEVEL,
  EOS,
  type KneserNeyArrays,
  KneserNeyModel,
  MAX_ORDER,
  modifiedKnDiscounts,
  NgramCounts,
} from "./kneser-ney.js";
export { defaultCacheDir, ModelCache, recipeKey } from "./model-cache.js";
export { decodeModel, encodeModel } from "./model-codec.js";
export {
  MAX_BODY_BYTES,
  MAX_MESSAGES,
  MAX_PROMPT_TOKENS,
  MAX_TOP_LOGPROBS,
  OOV_LOGPROB,
  type ServePopulationOptions,
  type ServeTestbedOptions,
  serveTestbed,
  serveTestbedPopulation,
  type TestbedServer,
} from "./openai-server.js";
export {
  generateOrdinaryCanaryPairs,
  ORDINARY_CANARY_TEMPLATES,
  type OrdinaryLexicon,
  ordinaryLexicon,
} from "./ordinary-canaries.js";
export {
  applyPairLabels,
  CANARY_PAIR_LABEL_DOMAIN,
  CHECKPOINT_HASH_BYTES,
  canaryPairLabels,
  checkpointStandIn,
  type LabelledPair,
  type PairSide,
} from "./pair-labels.js";
export { type ParaphraseOptions, paraphrase } from "./paraphrase.js";
export {
  type BuildPopulationOptions,
  type BuildProgress,
  buildPopulation,
  isWatermarkControl,
  type MemberCanaries,
  type MemberInfo,
  type MemberShare,
  type PlannedMemberPairs,
  type PlannedModel,
  POPULATION_VERSION,
  type Population,
  type PopulationEntry,
  type PopulationSize,
  type Probe,
  pairedCanarySet,
  planCanaryPairs,
  type Role,
  SCENARIOS,
  type Scenario,
  type Split,
} from "./population.js";
export { Prng } from "./prng.js";
export { applyStyle, STYLES, type Style } from "./style.js";
export { SUBWORD_CANDIDATES, SUBWORD_SUFFIX, SubwordTestbedModel } from "./subword-model.js";
export { BpeTokenizer, SUBWORD_MERGES, trainSubwordTokenizer } from "./subword-tokenizer.js";
export { TestbedError, type TestbedErrorCode } from "./testbed-error.js";
export {
  type GeneratedToken,
  type GenerateOptions,
  type Generation,
  MAX_GENERATION_TOKENS,
  TestbedModel,
  type TokenLogprob,
  type WatermarkConfig,
} from "./testbed-model.js";
