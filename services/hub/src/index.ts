/** Hub: sketch index, scanner, sessions, transparency log, cases. */
export { type HubServer, type HubServerOptions, startHubServer } from "./hub-server.js";
export {
  type BundleSelector,
  buildAttestationBundle,
  MAX_BUNDLE_MEMBERSHIP,
} from "./log/attestation-bundle.js";
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
