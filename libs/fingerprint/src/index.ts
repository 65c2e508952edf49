/** Probing, signals, statistics and sketches: pure, no I/O but the model adapter. */

export type { HttpAdapterOptions } from "./adapters/adapter-http.js";
export {
  HttpAdapter,
  parseChatResponse,
  parseCompletionResponse,
  parseRetryAfter,
} from "./adapters/adapter-http.js";
export type { ReplayLimits, ReplayRecord } from "./adapters/adapter-replay.js";
export { DEFAULT_REPLAY_LIMITS, parseReplay, ReplayAdapter } from "./adapters/adapter-replay.js";
export type { AdapterDescription, GenerateRequest, ModelAdapter } from "./adapters/adapter-types.js";
export type { CompareBound, CompareInput, CompareResult, ReportedSignal } from "./compare.js";
export { compare } from "./compare.js";
export type { FingerprintErrorCode } from "./fingerprint-error.js";
export { FingerprintError } from "./fingerprint-error.js";
export type { BatterySplit } from "./probe/battery.js";
export {
  DOCUMENT_LIMITS,
  parseBattery,
  parseCanarySet,
  splitBattery,
  splitEpochBattery,
} from "./probe/battery.js";
export type { ProbeSettings, Progress } from "./probe/probe-run.js";
export { askAll, fingerprintAdapter, parseFingerprint, probeModel, probeRequest } from "./probe/probe-run.js";
export type {
  Battery,
  Canary,
  CanaryPair,
  CanarySet,
  Fingerprint,
  ModelResponse,
  Probe,
  TokenLogprobs,
  TopLogprob,
} from "./probe/probe-types.js";
export { detokenize, TOKENIZER_VERSION, tokenize, tokenizeReference } from "./probe/tokenize.js";
// The similarity lead: similarity signals ranked at the model level against unrelated pairs (never accuses).
export type { ProbeVector } from "./signals/probe-features.js";
export { PROBE_VECTOR_BUCKETS, probeSimilarity, probeVector } from "./signals/probe-features.js";
export type { CanaryPairOptions, CanaryPairScore, CanaryResponses } from "./signals/signal-canary.js";
export {
  answerContentTokens,
  CANARY_LOGPROB_POSITIONS,
  CANARY_TOP_LOGPROBS,
  canaryAnswerScore,
  canaryAskOrder,
  canaryHit,
  canaryResponseHit,
  canaryScoringPrompt,
  scoreCanaryPairs,
} from "./signals/signal-canary.js";
export type {
  ResponseFeatures,
  SimilarityFeature,
} from "./signals/signal-output-similarity.js";
export {
  featureSimilarity,
  responseFeatures,
  SIMILARITY_FEATURES,
} from "./signals/signal-output-similarity.js";
export { statedAnswer } from "./signals/signal-shared-wrong.js";
export { topOverlap } from "./signals/signal-token-distribution.js";
export type { SignalName, SignalResult } from "./signals/signal-types.js";
export { unavailableSignal } from "./signals/signal-types.js";
export {
  DEFAULT_WATERMARK_GAMMA,
  isCommonToken,
  isSelectedPair,
  MAX_WATERMARK_PAIRS,
  massLevel,
  WATERMARK_COMMON_TOKENS,
  WATERMARK_MASS_LEVELS,
  WATERMARK_SELECTION_VERSION,
  WatermarkPairSet,
  type WatermarkResponse,
  watermarkCountsFromResponses,
} from "./signals/signal-watermark.js";
export type {
  LeadComponent,
  LeadPart,
  SimilarityLead,
  SimilarityLeadInput,
} from "./signals/similarity-lead.js";
export {
  LEAD_COMPONENTS,
  LEAD_PARTS,
  LEAD_WEIGHTS,
  MAX_LEAD_PANEL,
  MAX_LEAD_PROBES,
  MIN_LEAD_PANEL,
  MIN_LEAD_PROBES,
  STYLE_BASIS_GROUPS,
  STYLE_DELTA_SHARE,
  similarityLead,
  styleBasis,
  styleScore,
} from "./signals/similarity-lead.js";
export type { StyleCounts, StyleGroup, StyleProfile } from "./signals/style-features.js";
export {
  cosineDelta,
  DELTA_FEATURES,
  STYLE_GROUP_WEIGHTS,
  STYLE_GROUPS,
  styleAgreement,
  styleCounts,
  styleProfile,
  sumProfiles,
} from "./signals/style-features.js";
export {
  greenSeed,
  isGreen,
  isGreenHashed,
  tokenHash32,
  WATERMARK_VERSION,
} from "./signals/watermark-green-list.js";
// Sketches and LSH retrieval (sketch-*, minhash, simhash, lsh-*).
export {
  candidateProbability,
  DESIGN_SIMILARITY,
  LSH_V1,
  type LshChoice,
  type LshParams,
  pickLshParams,
} from "./sketch/lsh-params.js";
export {
  DEFAULT_PROBE_STAGE,
  PROBE_STAGE_V1,
  type ProbeStageEvidence,
  type ProbeStageParams,
  passesProbeStage,
  probeStageEvidence,
  studentTQuantile,
} from "./sketch/probe-stage.js";
export { buildSketch, normalizeAnswer, sketchInputsFromFingerprint } from "./sketch/sketch-build.js";
export { checkSketch, decodeSketch, encodeSketch } from "./sketch/sketch-codec.js";
export { MAX_MODEL_REF_LENGTH, type SketchCandidate, SketchIndex } from "./sketch/sketch-index.js";
export { createSketchContext, type SketchContext } from "./sketch/sketch-keys.js";
export {
  compareSketches,
  jaccardFromBandAgreement,
  type SketchSimilarity,
} from "./sketch/sketch-similarity.js";
export {
  COARSE_BANDS,
  COARSE_DIGEST_BYTES,
  COARSE_ROWS_PER_BAND,
  EPOCH_KEY_BYTES,
  PROBE_BANDS,
  PROBE_DIGEST_BYTES,
  PROBE_ROWS,
  PROBE_ROWS_PER_BAND,
  type ProbeSketch,
  SHINGLE_SIZE,
  SIMHASH_POSITIONS,
  SKETCH_LIMITS,
  SKETCH_VERSION,
  SKETCH_VERSIONS,
  type Sketch,
  type SketchProbeInput,
  type SketchVersion,
  WRONG_ANSWER_DIGEST_BYTES,
} from "./sketch/sketch-types.js";
export { seededShuffle } from "./stats/seeded-shuffle.js";
export {
  binomialUpperTail,
  hypergeometricUpperTail,
  ksUniform,
  logChoose,
  MAX_SIGNED_RANK_PAIRS,
  normalUpperTail,
  signedRankUpperTail,
  weightedBernoulliUpperTail,
} from "./stats/stats-exact.js";
export { bonferroni, fisherCombine, holm } from "./stats/stats-multiple.js";
export { SignTestMartingale } from "./stats/stats-sequential.js";
// Attribution across members (Holm over each member's best accusing test).
export type { MemberAttribution, MemberVerdict } from "./verdict/attribution.js";
export { attributeMembers, MAX_ATTRIBUTION_MEMBERS } from "./verdict/attribution.js";
// The verdict: one pure module the member node, the hub and the auditor all decide with.
export type {
  CanaryPairCounts,
  LeadEvidence,
  LeadOutcome,
  TestOutcome,
  Verdict,
  VerdictEvidence,
  VerdictResult,
  WatermarkCounts,
} from "./verdict/verdict.js";
export {
  canaryPairsTest,
  canaryRanksTest,
  checkCanaryCounts,
  checkLeadEvidence,
  checkWatermarkCounts,
  decidedWithoutWatermarkQueries,
  deriveVerdict,
  rankLead,
  unscoredWatermarkCounts,
  watermarkSetsTest,
  watermarkTest,
} from "./verdict/verdict.js";
export type { AccusingTest, VerdictPolicy } from "./verdict/verdict-policy.js";
export {
  ACCUSING_TESTS,
  CUSTOM_POLICY_ID,
  checkBoundPolicy,
  checkVerdictPolicy,
  DEFAULT_VERDICT_POLICY,
  isRegisteredPolicy,
  registeredPolicy,
  resolvePolicy,
  samePolicyNumbers,
  VERDICT_POLICIES,
  VERDICT_POLICY_2,
  VERDICT_POLICY_3,
} from "./verdict/verdict-policy.js";
