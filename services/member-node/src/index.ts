/** Member node: the member's private side — fingerprints, canaries and keys stay here. */
export {
  ATTESTATION_PAYLOAD_TYPE,
  ATTESTATION_STATEMENT_VERSION,
  type AttestationSubject,
  attestationStatement,
  type LoggedSessionRef,
  signAttestation,
} from "./attestation.js";
export { isMemberNodeError, MemberNodeError, type MemberNodeErrorCode } from "./member-node-error.js";
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
export {
  evidenceToProto,
  policyFromProto,
  policyToProto,
  testResultsToProto,
  verdictToProto,
} from "./verdict-proto.js";
