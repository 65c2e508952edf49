/** Member node: the member's private side — fingerprints, canaries and keys stay here. */
export {
  ATTESTATION_PAYLOAD_TYPE,
  type AttestationSubject,
  attestationStatement,
  signAttestation,
} from "./attestation.js";
