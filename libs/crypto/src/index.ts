/**
 * @lineage/crypto — keys, signatures, DSSE envelopes, Merkle trees and proofs, checkpoints,
 * canary commitments and replay protection. Pure: no I/O; node:crypto is used for speed.
 */

export { bytesEqual, fromBase64, fromHex, sha256, toBase64, toHex } from "./bytes.js";
export {
  CANARY_LEAF_DOMAIN,
  CANARY_SALT_SIZE,
  CanaryCommitment,
  type CanaryCommitmentPublic,
  type CanaryDisclosure,
  canaryLeafData,
  MAX_CANARY_ITEM_BYTES,
  MAX_CANARY_ITEMS,
  verifyCanaryDisclosure,
} from "./canary-commitment.js";
export {
  CANARY_ITEM_DOMAIN,
  canaryItemBytes,
  MAX_CANARY_EXPECTED_CHARS,
  MAX_CANARY_PROMPT_CHARS,
} from "./canary-item.js";
export {
  CANARY_PAIR_ITEM_DOMAIN,
  CANARY_PAIR_LEAF_DOMAIN,
  type CanaryPair,
  CanaryPairCommitment,
  type CanaryPairDisclosure,
  type CanaryPairItem,
  canaryPairItemBytes,
  canaryPairLeafData,
  MAX_CANARY_PAIR_ID_CHARS,
  MAX_CANARY_PAIRS,
  verifyCanaryPairDisclosure,
} from "./canary-pair.js";
export {
  CANARY_LABEL_DOMAIN,
  type CanaryPairLabel,
  type CanaryPairLabelInput,
  canaryPairLabels,
} from "./canary-pair-labels.js";
export {
  type Checkpoint,
  cosignCheckpoint,
  formatCheckpoint,
  type OpenCheckpointOptions,
  type OpenedCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from "./checkpoint.js";
export {
  COMMITMENT_SALT_SIZE,
  MAX_FINGERPRINT_BYTES,
  MAX_WATERMARK_KEY_BYTES,
  REFERENCE_FINGERPRINT_DOMAIN,
  referenceFingerprintDigest,
  WATERMARK_KEY_DOMAIN,
  watermarkKeyDigest,
} from "./commitment-digest.js";
export { CompactRange } from "./compact-range.js";
export { CryptoError, type CryptoErrorCode, type CryptoErrorOptions, isCryptoError } from "./crypto-error.js";
export { type CountersignOptions, paeBytes, verifyThenCountersign } from "./dsse-countersign.js";
export {
  addSignature,
  checkEnvelopeShape,
  DEFAULT_DSSE_LIMITS,
  type DsseEnvelope,
  type DsseLimits,
  type DsseSignature,
  type DsseSigner,
  type DsseVerified,
  type DsseVerifyOptions,
  envelopesEqual,
  pae,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
  verifyEnvelope,
  verifyEnvelopeAsync,
} from "./dsse-envelope.js";
export {
  ED25519_PUBLIC_KEY_SIZE,
  ED25519_SEED_SIZE,
  ED25519_SIGNATURE_SIZE,
  Ed25519PrivateKey,
  Ed25519PublicKey,
  KeyRing,
  keyIdOf,
  noblePublicKey,
  nobleSign,
  nobleVerify,
} from "./ed25519-key.js";
export { emptyRoot, HASH_SIZE, hashChildren, hashLeaf } from "./merkle-hash.js";
export {
  MAX_PROOF_LENGTH,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "./merkle-proof.js";
export {
  buildLevels,
  consistencyProofFromNodes,
  consistencyProofFromStore,
  inclusionProofFromNodes,
  inclusionProofFromStore,
  type MerkleNode,
  type MerkleNodeId,
  MerkleTree,
  merkleRoot,
  merkleRootFromLeafHashes,
  type NodeAccessor,
  type NodeBatchFetcher,
  nodesForConsistencyProof,
  nodesForInclusionProof,
  nodesForRoot,
  rootFromNodes,
  rootFromStore,
} from "./merkle-tree.js";
export {
  type CosignatureVerifierKey,
  cosignatureTimestamp,
  cosignatureV1Signer,
  cosignatureV1Verifier,
  formatCosignatureVerifierKey,
  NOTE_ALG_COSIGNATURE_V1,
  parseCosignatureVerifierKey,
} from "./note-cosignature.js";
export {
  DISCLOSURE_PAIRS,
  DISCLOSURE_SEED_CONTEXT,
  type DisclosureSampleInput,
  disclosurePairCount,
  disclosurePairIndices,
  SESSION_SEED_CONTEXT,
  type SessionSeedInput,
  sessionSeed,
} from "./protocol-seed.js";
export {
  ReplayGuard,
  type ReplayGuardOptions,
  type ReplayGuardState,
  type ReplayRejections,
} from "./replay-guard.js";
export { deriveSeed, MAX_SAMPLE_POPULATION, sampleIndices } from "./seeded-sample.js";
export {
  MAX_MEMBER_ID_BYTES,
  MAX_MESSAGE_PAYLOAD_BYTES,
  MAX_NONCE_BYTES,
  type MemberKeyResolver,
  type MessageHeader,
  MIN_NONCE_BYTES,
  newNonce,
  type SignedMessage,
  signedMessageBytes,
  signMessage,
  verifyMessage,
} from "./signed-message.js";
export {
  DEFAULT_NOTE_LIMITS,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatKeyId,
  formatSignerKey,
  formatVerifierKey,
  NOTE_ALG_ED25519,
  type NoteLimits,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  noteKeyId,
  type OpenedNote,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "./signed-note.js";
export {
  type AddCheckpointRequest,
  formatAddCheckpointRequest,
  MAX_ADD_CHECKPOINT_BYTES,
  MAX_ROTATION_LEAF_BYTES,
  MAX_ROTATIONS_PER_REQUEST,
  MAX_WITNESS_PROOF_LINES,
  MAX_WITNESS_REQUEST_BYTES,
  parseAddCheckpointRequest,
  type RootRotationProof,
} from "./witness-request.js";
export {
  COSIGNATURE_DIGEST_DOMAIN,
  cosignatureDigest,
  MAX_SEED_COSIGNATURES,
  WITNESSED_DISCLOSURE_CONTEXT,
  type WitnessedSampleInput,
  witnessedDisclosurePairIndices,
  witnessedDisclosureSeed,
} from "./witnessed-seed.js";
