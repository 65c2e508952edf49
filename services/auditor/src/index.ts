/**
 * `@lineage/auditor`: verifies attestations, log consistency and canary disclosures trusting only
 * the hub's public key (DESIGN.md flow 8). Used by `lineage audit ...`.
 */
export {
  AUDIT_EXIT,
  type AuditCheck,
  AuditError,
  type AuditErrorCode,
  type AuditErrorOptions,
  CheckList,
  exitCodeFor,
  isAuditError,
} from "./audit-error.js";
export { AuditorState } from "./auditor-state.js";
export {
  bundleToJson,
  disclosurePackageToJson,
  MAX_BUNDLE_FILE_BYTES,
  MAX_PACKAGE_FILE_BYTES,
  parseBundle,
  parseDisclosurePackage,
  readBundleFile,
  readDisclosurePackage,
} from "./bundle-file.js";
export {
  describeMemberModel,
  describeSuspect,
  verificationReport,
  verificationText,
} from "./bundle-report.js";
export {
  AUDITOR_PRIVATE_KEY_PREFIX,
  AUDITOR_PUBLIC_KEY_PREFIX,
  auditorPublicKeyOf,
  DISCLOSURE_ENVELOPE_INFO,
  DISCLOSURE_ENVELOPE_MAGIC,
  generateAuditorKey,
  openDisclosureEnvelope,
  parseAuditorPrivateKey,
  readSealedDisclosurePackage,
} from "./disclosure-envelope.js";
export {
  type AuditedEpoch,
  type AuditedSuppression,
  auditedEpochKeyCommitment,
  checkEpochLog,
  type EpochLogReport,
  EpochSequence,
  MAX_EPOCH_PAYLOAD_BYTES,
  MAX_EPOCH_RECORDS,
  readEpochStatement,
  readSketchSuppression,
} from "./epoch-records.js";
export {
  type HubKeyDelegation,
  HubKeyHistory,
  type HubKeyRecord,
  type HubPurpose,
  MAX_HUB_KEY_STATEMENTS,
  trustWithRotations,
} from "./hub-key-history.js";
export {
  type AuditedKey,
  type AuditedLeaf,
  applyMembershipRecord,
  auditedKeyFingerprint,
  decodeAuditedLeaf,
  keyValidity,
  MAX_STATED_SKEW_MS,
  openHubCheckpoint,
  PAYLOAD_TYPES,
  PAYLOAD_TYPES_OF_KIND,
  type StatusChange,
  statusAt,
} from "./log-records.js";
export { hubEntryStream, type LogEntryStream, MAX_ENTRIES_PER_CALL } from "./log-stream.js";
export {
  auditLog,
  DEFAULT_MAX_FAILURES,
  DEFAULT_WALK_CACHE_BYTES,
  type LogFailure,
  type LogWalkOptions,
  type LogWalkReport,
  type WalkSavedOutcome,
} from "./log-walk.js";
export {
  HISTORY_PAGE_ENTRIES,
  hubEntrySource,
  type LogEntrySource,
  MAX_HISTORY_ENTRIES,
  MAX_HISTORY_RECORDS,
  type MemberHistory,
  type MemberHistoryRecord,
  readMemberHistory,
  type ServedEntry,
} from "./member-history.js";
export {
  type WatchedEntry,
  type WatchReport,
  type WatchState,
  watchMember,
} from "./member-watch.js";
export { replayMembership } from "./membership-replay.js";
export {
  canaryCountsFromProto,
  leadFromProto,
  MAX_POLICY_WEIGHTS,
  verdictEvidenceFromProto,
  verdictFromProto,
  verdictPolicyFromProto,
  watermarkCountsFromProto,
} from "./statement-domain.js";
export { TreeNodes } from "./tree-nodes.js";
export {
  MAX_TRUSTED_WITNESSES,
  type RootRotation,
  type TrustRoot,
  trustRootFromVerifierKey,
  withWitnesses,
} from "./trust-root.js";
export {
  type AttestationContext,
  type AttestationVerification,
  verifyAttestationEntry,
} from "./verify-attestation.js";
export {
  type BoundEntryName,
  type BoundEntrySource,
  type BoundVerification,
  bundleEntrySource,
  checkSessionSeed,
  MAX_PANEL,
  type TreeRoot,
  verifyBoundChoices,
} from "./verify-bound-choices.js";
export {
  type BundleVerification,
  MAX_BUNDLE_HUB_KEYS,
  MAX_BUNDLE_MEMBERSHIP,
  trustFromBundle,
  type VerifyBundleOptions,
  verifyBundle,
} from "./verify-bundle.js";
export {
  auditConsistency,
  type CheckpointSource,
  type ConsistencyReport,
  checkExtends,
  hubCheckpointSource,
} from "./verify-consistency.js";
export {
  CANARY_REQUEST,
  CLAIM_CHECK_LEVEL,
  type DisclosureOptions,
  type DisclosureReport,
  decoyOnlyAllowed,
  exposedOnlyNeeded,
  MAX_DISCLOSED_PAIRS,
  MAX_RESPONSE_CHARS,
  PREVIOUS_SIZE_EXTENSION,
  previousSizeOf,
  type SampleCounts,
  SEED_COSIGN_WINDOW_S,
  verifyDisclosure,
} from "./verify-disclosure.js";
export { checkAgainstSaved, type SavedCheck, type SavedOutcome } from "./verify-saved.js";
export { checkWitnessQuorum, type WitnessQuorum } from "./witness-quorum.js";
