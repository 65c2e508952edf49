/**
 * Seeds the match protocol derives from the log, so that no party picks them (docs/specs/disclosure.md,
 * proto match_session.proto SessionOpened.seed). Both reuse deriveSeed (seeded-sample.ts):
 *
 *   session seed      = deriveSeed(root of the checkpoint of size seed_checkpoint_size, 0^32,
 *                                  "lineage/session-seed/v1\n<origin>\n<session_id>")
 *                       (a session binds no commitment root here, so that slot is 32 zero bytes)
 *   disclosure sample = sampleIndices(deriveSeed(root of the FIRST checkpoint covering the attestation,
 *                                  commitment root, "lineage/disclosure/v1\n<origin>\n<attestation index>"),
 *                                  pairs_committed, DISCLOSURE_PAIRS)
 *   DISCLOSURE_PAIRS  = min(pairs_committed, 32): fixed by the protocol, so a member cannot choose how much
 *                       to show (an auditor refuses any other size).
 *
 * Vectors: protocol-seed.test.ts, computed by scripts/vectors/lineage_vectors.py.
 */
import { checkBytes, checkInteger, checkString } from "./bytes.js";
import { MAX_CANARY_PAIRS } from "./canary-pair.js";
import { CryptoError } from "./crypto-error.js";
import { deriveSeed, sampleIndices } from "./seeded-sample.js";

/** First line of the session seed context. */
export const SESSION_SEED_CONTEXT = "lineage/session-seed/v1";
/** First line of the disclosure sample context. */
export const DISCLOSURE_SEED_CONTEXT = "lineage/disclosure/v1";
/** Most pairs a disclosure shows (the protocol's fixed sample size when at least this many are committed). */
export const DISCLOSURE_PAIRS = 32;

const NO_COMMITMENT = new Uint8Array(32);

function line(name: string, value: unknown, max: number): string {
  const s = checkString(name, value);
  if (s.length === 0 || s.length > max || s.includes("\n"))
    throw new CryptoError("invalid_argument", `${name} must be 1..${max} characters without a newline`);
  return s;
}

/** Inputs of {@link sessionSeed}. */
export interface SessionSeedInput {
  /** Root hash of the hub-signed checkpoint of size `seed_checkpoint_size` (32 bytes). */
  readonly checkpointRoot: Uint8Array;
  /** The log origin (the checkpoints' first line). */
  readonly origin: string;
  /** The session id. */
  readonly sessionId: string;
}

/** The seed of a session's probe and canary order (see the module header). */
export function sessionSeed(input: SessionSeedInput): Uint8Array {
  checkBytes("checkpointRoot", input.checkpointRoot, 32);
  const origin = line("origin", input.origin, 256);
  const sessionId = line("sessionId", input.sessionId, 64);
  return deriveSeed(input.checkpointRoot, NO_COMMITMENT, `${SESSION_SEED_CONTEXT}\n${origin}\n${sessionId}`);
}

/** How many pairs a disclosure must show: min(pairsCommitted, DISCLOSURE_PAIRS). */
export function disclosurePairCount(pairsCommitted: number): number {
  checkInteger("pairsCommitted", pairsCommitted, 1, MAX_CANARY_PAIRS);
  return Math.min(pairsCommitted, DISCLOSURE_PAIRS);
}

/** Inputs of {@link disclosurePairIndices}. */
export interface DisclosureSampleInput {
  /** Root hash of the first hub-signed checkpoint covering the attestation entry (32 bytes). */
  readonly checkpointRoot: Uint8Array;
  /** The logged commitment root (32 bytes). */
  readonly commitmentRoot: Uint8Array;
  /** The log origin. */
  readonly origin: string;
  /** Log index of the attestation. */
  readonly attestationIndex: number;
  /** The commitment's canary_count (pairs). */
  readonly pairsCommitted: number;
}

/** The pair indices a disclosure must show, in sample order (see the module header). */
export function disclosurePairIndices(input: DisclosureSampleInput): number[] {
  checkBytes("checkpointRoot", input.checkpointRoot, 32);
  checkBytes("commitmentRoot", input.commitmentRoot, 32);
  const origin = line("origin", input.origin, 256);
  const index = checkInteger("attestationIndex", input.attestationIndex, 0);
  const k = disclosurePairCount(input.pairsCommitted);
  const seed = deriveSeed(
    input.checkpointRoot,
    input.commitmentRoot,
    `${DISCLOSURE_SEED_CONTEXT}\n${origin}\n${index}`,
  );
  return sampleIndices(seed, input.pairsCommitted, k);
}
