/** Member node: the member's private side — fingerprints, canaries and keys stay here. */

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
export { type HeaderSigner, headerSigner, nextHeaderSequence } from "./header-signer.js";
export type { MemberNodeDeps } from "./member-node-deps.js";
export { isMemberNodeError, MemberNodeError, type MemberNodeErrorCode } from "./member-node-error.js";
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
