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
  type AuditedKey,
  type AuditedLeaf,
  decodeAuditedLeaf,
  keyValidity,
  openHubCheckpoint,
} from "./log-records.js";
export { type TrustRoot, trustRootFromVerifierKey } from "./trust-root.js";
export { type BundleVerification, MAX_BUNDLE_MEMBERSHIP, verifyBundle } from "./verify-bundle.js";
export {
  auditConsistency,
  type CheckpointSource,
  type ConsistencyReport,
  checkExtends,
  hubCheckpointSource,
} from "./verify-consistency.js";
export {
  CANARY_REQUEST,
  type DisclosureOptions,
  type DisclosureReport,
  disclosureContext,
  hitsNeeded,
  MAX_DISCLOSED_CANARIES,
  MAX_RESPONSE_CHARS,
  PREVIOUS_SIZE_EXTENSION,
  previousSizeOf,
  verifyDisclosure,
} from "./verify-disclosure.js";
