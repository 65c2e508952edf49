/** Member node: the member's private side — fingerprints, canaries and keys stay here. */

/** A canary pair as the node imports, generates and commits it (re-exported from @lineage/crypto). */
export type { CanaryPair } from "@lineage/crypto";
export {
  ADMIN_AUTH_METADATA_KEY,
  type AdminAuth,
  type AdminAuthOptions,
  adminAuth,
  setAdminAuth,
  signAdminRequest,
} from "./admin-auth.js";
export {
  ATTESTATION_PAYLOAD_TYPE,
  ATTESTATION_STATEMENT_VERSION,
  type AttestationSubject,
  attestationStatement,
  type LoggedSessionRef,
  signAttestation,
} from "./attestation.js";
export { MAX_IMPORT_PAIRS, parseCanaryPairsJsonl, readCanaryPairsFile } from "./canaries/canary-file.js";
export { canaryPairsToJsonl, generateCanaryPairs } from "./canaries/canary-generate.js";
export { CanarySets, type CanarySetsDeps, DEFAULT_MAX_SUSPECTS_PER_CANARY } from "./canaries/canary-sets.js";
export { type HubLogClient, type HubLogTrust, verifiedEntry } from "./canaries/hub-log.js";
export {
  type AdapterConfig,
  type BatteryConfig,
  checkMemberNodeConfig,
  type DatabaseConfig,
  type HubConfig,
  type ListenTlsConfig,
  MEMBER_ID_PATTERN,
  type MemberNodeConfig,
  memberInboxPrefix,
  type NatsConfig,
  readMemberNodeConfig,
  readPrivateFile,
  redactConfig,
} from "./config/member-node-config.js";
export {
  AUDITOR_PUBLIC_KEY_PREFIX,
  parseAuditorPublicKey,
  sealDisclosureEnvelope,
} from "./disclosure/disclosure-envelope.js";
export { buildDisclosurePackage, type DisclosureDeps } from "./disclosure/disclosure-package.js";
export {
  countSeedCosignatures,
  MAX_DISCLOSURE_WITNESSES,
  parseSeedWitnesses,
  SEED_COSIGN_WINDOW_S,
  type SeedWitnesses,
} from "./disclosure/seed-witnesses.js";
export { type HeaderSigner, headerSigner, nextHeaderSequence } from "./header-signer.js";
export { connectMemberNode, type MemberNodeClient } from "./member-node-client.js";
export type { MemberNodeDeps } from "./member-node-deps.js";
export { isMemberNodeError, MemberNodeError, type MemberNodeErrorCode } from "./member-node-error.js";
export {
  type MemberNode,
  readSigningKey,
  type StartMemberNodeOptions,
  startMemberNode,
} from "./member-node-runtime.js";
export {
  type MemberNodeServer,
  type MemberNodeServerOptions,
  memberNodeHandlers,
  startMemberNodeServer,
} from "./member-node-server.js";
export {
  errorFields,
  jsonLineLogger,
  type LogFields,
  type LogValue,
  type NodeLogger,
  silentNodeLogger,
} from "./node-logger.js";
export {
  type BatterySource,
  batteryDigest,
  type EpochBattery,
  fileBatterySource,
  parseBatteryText,
  parseEpochKey,
  staticBatterySource,
} from "./protect/battery-source.js";
export { type EpochWatcher, protectAllOnCurrentEpoch, watchEpochs } from "./protect/epoch-republish.js";
export {
  batteryFromResponse,
  HUB_SIGNER,
  hubBatterySource,
  verifyHubResponse,
} from "./protect/hub-battery-source.js";
export { endpointAdapter, preflightEndpoint } from "./protect/model-endpoint.js";
export {
  checkProtectRequest,
  MODEL_ID_PATTERN,
  type ProtectOptions,
  type ProtectPhase,
  type ProtectProgress,
  type ProtectRequest,
  protectModel,
} from "./protect/protect-flow.js";
export {
  type LoggedReference,
  loggedReference,
  logReferenceFingerprint,
  REFERENCE_FINGERPRINT_PAYLOAD_TYPE,
} from "./protect/reference-commitment.js";
export { SKETCH_PAYLOAD_TYPE, sketchToProto } from "./protect/sketch-proto.js";
export {
  ensureSketchStream,
  KIND_HEADER,
  memberSketchStream,
  modelToken,
  publishSketch,
  publishWithdrawal,
  sketchPayload,
  sketchSubject,
} from "./protect/sketch-publisher.js";
export { MAX_REASON_CHARS, withdrawModel } from "./protect/withdraw-flow.js";
export {
  type FingerprintResponse,
  referenceFingerprintBytes,
  referenceFingerprintHash,
} from "./reference-fingerprint.js";
export {
  checkSessionRequest,
  compareSeedOf,
  SESSION_PAYLOAD_TYPE,
  type SessionExpectation,
} from "./session-check.js";
export { MatchSessions, type MatchSessionsDeps, type SessionModels } from "./sessions/match-sessions.js";
export { hubLogTrust, nodeSessionModels, startNodeMatch } from "./sessions/node-match.js";
export {
  type MatchOptions,
  type MatchServices,
  matchHandlers,
  matchServices,
  serveSessionsOnBus,
  sessionRequestSubject,
} from "./sessions/session-handlers.js";
export {
  evidenceToProto,
  policyFromProto,
  policyToProto,
  testResultsToProto,
  verdictToProto,
} from "./verdict-proto.js";
export { watermarkHandlers } from "./watermark/watermark-handlers.js";
export {
  parseWatermarkKeyText,
  WATERMARK_COMMITMENT_PAYLOAD_TYPE,
  WATERMARK_SCHEME,
  type WatermarkKeyInfo,
  WatermarkKeys,
} from "./watermark/watermark-keys.js";
export {
  boundedAnswer,
  WATERMARK_QUERIES_PROTOCOL,
  WATERMARK_QUERIES_PROTOCOL_V1,
  WATERMARK_QUERIES_PROTOCOL_V2,
  WATERMARK_QUERY_COUNT,
  WATERMARK_QUERY_MAX_TOKENS,
  WATERMARK_QUERY_TOP,
  type WatermarkQuery,
  watermarkQueryPlan,
} from "./watermark/watermark-queries.js";
