/** Probing, signals, statistics and sketches: pure, no I/O but the model adapter. */

export type { HttpAdapterOptions } from "./adapter-http.js";
export { HttpAdapter, parseChatResponse, parseCompletionResponse, parseRetryAfter } from "./adapter-http.js";
export type { ReplayLimits, ReplayRecord } from "./adapter-replay.js";
export { DEFAULT_REPLAY_LIMITS, parseReplay, ReplayAdapter } from "./adapter-replay.js";
export type { AdapterDescription, GenerateRequest, ModelAdapter } from "./adapter-types.js";
export { DOCUMENT_LIMITS, parseBattery, parseCanarySet } from "./battery.js";
export type { CompareInput, CompareResult, ReportedSignal } from "./compare.js";
export { compare, seededShuffle } from "./compare.js";
export type {
  Decision,
  DecisionPolicy,
  DecisionResult,
  MemberAttribution,
  MemberEvidence,
  PolicyReport,
} from "./decision.js";
export {
  attribute,
  checkPolicy,
  DEFAULT_POLICY,
  DEFAULT_SIGNAL_WEIGHTS,
  decide,
  type SignalWeights,
  signalFamily,
} from "./decision.js";
export type { FingerprintErrorCode } from "./fingerprint-error.js";
export { FingerprintError } from "./fingerprint-error.js";
// Sketches and LSH retrieval (sketch-*, minhash, simhash, lsh-*).
export {
  candidateProbability,
  DESIGN_SIMILARITY,
  LSH_V1,
  type LshChoice,
  type LshParams,
  pickLshParams,
} from "./lsh-params.js";
export type { ProbeSettings, Progress } from "./probe-run.js";
export { askAll, fingerprintAdapter, parseFingerprint, probeModel, probeRequest } from "./probe-run.js";
export type {
  Battery,
  Canary,
  CanarySet,
  Fingerprint,
  ModelResponse,
  Probe,
  TokenLogprobs,
  TopLogprob,
} from "./probe-types.js";
export type { CanaryOptions, CanaryResponses } from "./signal-canary.js";
export {
  answerContentTokens,
  CANARY_LOGPROB_POSITIONS,
  CANARY_TOP_LOGPROBS,
  canaryHit,
  canaryResponseHit,
  canarySignal,
} from "./signal-canary.js";
export type {
  OutputSimilarityOptions,
  ResponseFeatures,
  SimilarityFeature,
  SimilarityRows,
} from "./signal-output-similarity.js";
export {
  featureSimilarity,
  outputSimilaritySignal,
  responseFeatures,
  SIMILARITY_FEATURES,
  similarityRows,
} from "./signal-output-similarity.js";
export type { EdgeObservation } from "./signal-shared-wrong.js";
export { sharedWrongSignal, statedAnswer } from "./signal-shared-wrong.js";
export type { CompletionObservation } from "./signal-token-distribution.js";
export { tokenDistributionSignal, topOverlap } from "./signal-token-distribution.js";
export type { SignalName, SignalResult } from "./signal-types.js";
export { unavailableSignal } from "./signal-types.js";
export {
  collectWatermarkPairs,
  GreenPairs,
  MAX_WATERMARK_PAIRS,
  type WatermarkResponse,
  watermarkPairs,
  watermarkSignal,
} from "./signal-watermark.js";
export {
  MAX_WATERMARK_PANEL,
  type WatermarkPanelOptions,
  watermarkPanelSignal,
} from "./signal-watermark-panel.js";
export { buildSketch, normalizeAnswer, sketchInputsFromFingerprint } from "./sketch-build.js";
export { checkSketch, decodeSketch, encodeSketch } from "./sketch-codec.js";
export { MAX_MODEL_REF_LENGTH, type SketchCandidate, SketchIndex } from "./sketch-index.js";
export { createSketchContext, type SketchContext } from "./sketch-keys.js";
export { compareSketches, jaccardFromBandAgreement, type SketchSimilarity } from "./sketch-similarity.js";
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
  type Sketch,
  type SketchProbeInput,
  WRONG_ANSWER_DIGEST_BYTES,
} from "./sketch-types.js";
export {
  binomialUpperTail,
  hypergeometricUpperTail,
  ksUniform,
  logChoose,
  normalUpperTail,
} from "./stats-exact.js";
export { bonferroni, fisherCombine, holm } from "./stats-multiple.js";
export type { PairedResult, ProbeScores } from "./stats-paired.js";
export { pairedSignIut } from "./stats-paired.js";
export { CanaryMartingale, SignTestMartingale } from "./stats-sequential.js";
export { detokenize, TOKENIZER_VERSION, tokenize } from "./tokenize.js";
export {
  greenSeed,
  isGreen,
  isGreenHashed,
  tokenHash32,
  WATERMARK_VERSION,
} from "./watermark-green-list.js";
