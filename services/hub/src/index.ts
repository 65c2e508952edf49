/** Hub: sketch index, scanner, sessions, transparency log, cases. */

// Sessions, the alpha ledger, cases and alerts (issue 10).
export {
  ALERT_KIND_TOKENS,
  ALERT_SUBJECTS,
  AlertCenter,
  type AlertFilter,
  type AlertInput,
  alertSubject,
} from "./alerts/alert-center.js";
export { CaseBook, type CaseChange, type CaseQuery, caseIdOf, checkDecision } from "./cases/case-book.js";
export { type CaseHandlerOptions, type CaseHandlers, caseHandlers } from "./cases/case-handlers.js";
// Epoch batteries, sketch ingestion and the sketch index (issue 10).
export {
  BATTERY_LIMITS,
  batteryDigest,
  checkProbes,
  EPOCH_PAYLOAD_TYPE,
  epochSigningBytes,
  verifyEpochSignature,
} from "./epochs/epoch-battery.js";
export { EPOCH_ROTATED_SUBJECT, type EpochHandlers, epochHandlers } from "./epochs/epoch-handlers.js";
export {
  batteryOf,
  type EpochRecord,
  EpochStore,
  epochMessage,
  type RotationInput,
} from "./epochs/epoch-store.js";
export {
  type FeedSource,
  type HubRuntime,
  type HubRuntimeOptions,
  type MemberNodeEndpoint,
  openHubRuntime,
} from "./hub-runtime.js";
export { type HubServer, type HubServerOptions, startHubServer } from "./hub-server.js";
export { BandIndex, type CoarseHit } from "./index/band-index.js";
export { type HubIndex, type HubIndexOptions, openHubIndex } from "./index/hub-index.js";
export {
  type Candidate,
  type RetrieveOptions,
  retrieveCandidates,
  SketchRetriever,
} from "./index/sketch-retriever.js";
export { CommitBatcher, type CommitBatcherOptions } from "./ingest/commit-batcher.js";
export { HubError, type HubErrorCode, isHubError } from "./ingest/hub-error.js";
export { IngestMetrics, type IngestMetricsSnapshot } from "./ingest/ingest-metrics.js";
export { logMemberDirectory, type MemberDirectory } from "./ingest/member-directory.js";
export { signHeader } from "./ingest/signed-header.js";
export {
  SKETCH_CONSUMER,
  SKETCH_STREAM,
  SKETCH_SUBJECTS,
  type SketchConsumerOptions,
  startSketchConsumer,
} from "./ingest/sketch-consumer.js";
export { MAX_UPLOAD_SKETCHES, type SketchHandlers, sketchHandlers } from "./ingest/sketch-handlers.js";
export { type IngestResult, SketchIngestor, type SketchIngestorOptions } from "./ingest/sketch-ingestor.js";
export {
  type MemberSketch,
  type ModelRef,
  SKETCH_PAYLOAD_TYPE,
  sketchFromProto,
  sketchToProto,
} from "./ingest/sketch-proto.js";
export { type CommitOutcome, type PendingSketch, SketchStore } from "./ingest/sketch-store.js";
export { MAX_SKETCH_MESSAGE_BYTES, MAX_SKETCH_PAYLOAD_BYTES } from "./ingest/sketch-verifier.js";
export {
  AlphaLedger,
  DEFAULT_ALPHA_BUDGET,
  type LedgerBalance,
  type Reservation,
} from "./ledger/alpha-ledger.js";
export {
  type BundleSelector,
  buildAttestationBundle,
  MAX_BUNDLE_MEMBERSHIP,
} from "./log/attestation-bundle.js";
export { rewrapEpochKeys } from "./log/epoch-key-rewrap.js";
export {
  delegationEnvelope,
  HUB_KEY_PURPOSE_SIGNS,
  HUB_KEY_PURPOSES,
  type HubKeyPurposeName,
  type HubPurposeKeys,
  retirementEnvelope,
  rootRotationEnvelope,
} from "./log/hub-key-statement.js";
export { isLogError, LogError, type LogErrorCode, type LogErrorOptions } from "./log/log-error.js";
export { type LogIntegrityOptions, type VerifiedLog, verifyStoredLog } from "./log/log-integrity.js";
export {
  type DecodedLeaf,
  decodeLeaf,
  encodeLeaf,
  envelopeFromProto,
  envelopeToProto,
  kindOfPayloadType,
  LOG_DSSE_LIMITS,
  MAX_LEAF_BYTES,
  PAYLOAD_TYPES,
} from "./log/log-leaf.js";
export {
  type LogServiceHandlers,
  type LogServiceOptions,
  logServiceHandlers,
  MAX_ENTRIES_PER_CALL,
} from "./log/log-service.js";
export type { LoggedCommitment } from "./log/log-state.js";
export type { StoredEntry } from "./log/log-store.js";
export {
  keyValidAt,
  keyValidAtIndex,
  type LoggedKey,
  type LoggedMember,
  type LoggedMemberStatus,
  MemberRegistry,
  type MembershipAdmission,
} from "./log/member-registry.js";
export {
  addKeyRecord,
  enrolmentRecord,
  keyFingerprint,
  revokeKeyRecord,
  signMembership,
} from "./log/membership-record.js";
export { WATERMARK_QUERIES_PROTOCOLS } from "./log/protocol-admission.js";
export {
  DEFAULT_MAX_BYTES_PER_CALL,
  DEFAULT_MAX_STREAMS_PER_PEER,
  type StreamLimits,
} from "./log/stream-limits.js";
export {
  type AppendedEntry,
  type FirstCovering,
  PREVIOUS_SIZE_EXTENSION,
  type SessionInit,
  type SessionView,
  type SignedCheckpoint,
  TransparencyLog,
  type TransparencyLogOptions,
} from "./log/transparency-log.js";
export {
  type CheckpointGossip,
  checkpointSubject,
  rootRotationProofs,
  startWitnessing,
  WitnessClient,
  type WitnessEndpoint,
  type Witnessing,
  type WitnessingOptions,
} from "./log/witness-client.js";
export {
  type MembershipHandlers,
  type MembershipServiceOptions,
  memberProto,
  membershipHandlers,
} from "./membership/membership-service.js";
export {
  nextSequence,
  RequestAuthenticator,
  type RequestAuthenticatorOptions,
  type RequestSender,
  type RequestSigner,
  SECRETARIAT,
  signRequest,
} from "./membership/request-header.js";
export {
  type FeedRelease,
  MAX_FEED_BYTES,
  MAX_FEED_RELEASES,
  parseRegistryFeed,
  submitFeed,
} from "./scan/registry-feed.js";
export {
  checkSuspect,
  ReleaseScanner,
  type ReleaseScannerOptions,
  type ScanProgress,
  type ScanResult,
  suspectIdOf,
} from "./scan/release-scanner.js";
export { type ScanHandlers, scanHandlers } from "./scan/scan-handlers.js";
export { type HubSessions, type HubSessionsOptions, openHubSessions } from "./sessions/hub-sessions.js";
export {
  MAX_PANEL,
  MIN_PANEL,
  type ReferenceModel,
  ReferencePopulation,
} from "./sessions/reference-population.js";
export {
  CONFIRMATION_SPLIT,
  type LoggedAttestation,
  policyProto,
  SessionManager,
  type SessionManagerOptions,
  type SessionOutcome,
  type SessionTarget,
  sessionPolicyFor,
} from "./sessions/session-manager.js";
export {
  BusSessionTransport,
  GrpcSessionTransport,
  MAX_MEMBER_MESSAGE_BYTES,
  type MemberAddressBook,
  memberSessionSubject,
  type RunOptions,
  type SessionTransport,
  verifyMemberHeader,
} from "./sessions/session-transport.js";
