/**
 * `lineage audit disclosure`: checks a member's selective disclosure of canaries (DESIGN.md flow 8;
 * attestation_bundle.proto CanaryDisclosure) trusting only the hub key:
 *   1. the attestation bundle verifies and names a canary commitment logged before it;
 *   2. the seed checkpoint is the FIRST the hub signed whose tree covers the attestation: it is
 *      hub-signed, covers the attestation's index, and its signed "lineage-previous-size" line
 *      says the checkpoint signed before it did not (that previous checkpoint is in the package,
 *      hub-signed, of that size, and consistent with it); it is consistent with the bundle's
 *      checkpoint. So the sample was fixed by the log after the attestation, and a member cannot
 *      shop among later checkpoints for a favourable one (code `seed_not_first`);
 *   3. the disclosed leaf indices are exactly sampleIndices(deriveSeed(seed root, commitment root,
 *      context), canary_count, sample_size), in order;
 *   4. each canary opens the committed Merkle root (salted leaf, RFC 6962 proof);
 *   5. the suspect's answers (recorded in the package, or re-queried live through
 *      @lineage/fingerprint's model adapter, asked as the engine asks canaries) hit as claimed —
 *      judged by the engine's own rule, `canaryResponseHit` (the answer in the text, or its first
 *      content token among the top CANARY_TOP_LOGPROBS alternatives of the first
 *      CANARY_LOGPROB_POSITIONS generated positions, recorded or re-served), so auditor and member node
 *      agree on what a hit is: the observed hits in the sample are not below the one-sided 99% binomial lower
 *      bound of the canary hit rate the attestation reports.
 * The package is attacker-controlled; every count and size is bounded.
 *
 * Seed context: `lineage/disclosure/v1\n<log origin>\n<attestation index>`.
 */
import { type AttestationBundle, type CanaryDisclosure, type RecordedResponse, TestKind } from "@lineage/api";
import {
  type Checkpoint,
  canaryItemBytes,
  deriveSeed,
  isCryptoError,
  sampleIndices,
  verifyCanaryDisclosure,
} from "@lineage/crypto";
import {
  CANARY_LOGPROB_POSITIONS,
  CANARY_TOP_LOGPROBS,
  canaryResponseHit,
  FingerprintError,
  type GenerateRequest,
  type ModelAdapter,
  type ModelResponse,
} from "@lineage/fingerprint";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import { openHubCheckpoint } from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";
import { type BundleVerification, verifyBundle } from "./verify-bundle.js";
import { type CheckpointSource, checkExtends } from "./verify-consistency.js";

/** Most canaries a disclosure may carry (proto bound). */
export const MAX_DISCLOSED_CANARIES = 1024;

/**
 * How canaries are asked of a live suspect: exactly as the engine asks them (libs/fingerprint
 * compare.ts: chat, 64 tokens, temperature 0, seed 0, top CANARY_TOP_LOGPROBS alternatives), so a hit
 * reproduces under the same request.
 */
export const CANARY_REQUEST: Readonly<Omit<GenerateRequest, "prompt">> = Object.freeze({
  mode: "chat",
  maxTokens: 64,
  temperature: 0,
  seed: 0,
  topLogprobs: CANARY_TOP_LOGPROBS,
  keepPositions: CANARY_LOGPROB_POSITIONS,
});

/** Longest token or alternative accepted in a recorded position (attestation_bundle.proto RecordedPosition). */
export const MAX_RECORDED_TOKEN_CHARS = 256;

/** Longest recorded response accepted (attestation_bundle.proto RecordedResponse). */
export const MAX_RESPONSE_CHARS = 16_384;

/** What to check a disclosure with. */
export interface DisclosureOptions {
  /**
   * Re-query this suspect (e.g. `new HttpAdapter({ baseUrl, model })` from @lineage/fingerprint);
   * otherwise the package's recorded responses are checked.
   */
  readonly suspect?: ModelAdapter;
  /** Fetches a consistency proof when the seed checkpoint is not the bundle's. */
  readonly hub?: Pick<CheckpointSource, "consistencyProof">;
  readonly signal?: AbortSignal;
}

/** The outcome of a verified disclosure. */
export interface DisclosureReport {
  readonly checks: readonly AuditCheck[];
  readonly attestationIndex: number;
  readonly sampleSize: number;
  /** Canaries whose answer hit. */
  readonly hits: number;
  /** The least hits that reproduce the attestation's claimed rate. */
  readonly hitsNeeded: number;
  /** Where the answers came from. */
  readonly answers: "live" | "recorded";
}

/** The extension line naming the previous checkpoint's size (services/hub PREVIOUS_SIZE_EXTENSION). */
export const PREVIOUS_SIZE_EXTENSION = "lineage-previous-size";
const PREVIOUS_SIZE_RE = /^lineage-previous-size (0|[1-9][0-9]{0,15})$/;

/** The signed previous-checkpoint size of a hub checkpoint; `seed_not_first` when absent or repeated. */
export function previousSizeOf(cp: Checkpoint): number {
  const lines = (cp.extensions ?? []).filter((e) => e.startsWith(`${PREVIOUS_SIZE_EXTENSION} `));
  const m = lines.length === 1 ? PREVIOUS_SIZE_RE.exec(lines[0] as string) : null;
  if (m === null || !Number.isSafeInteger(Number(m[1])) || Number(m[1]) >= cp.size) {
    throw new AuditError(
      "seed_not_first",
      `the checkpoint of size ${cp.size} does not carry one valid "${PREVIOUS_SIZE_EXTENSION}" line`,
    );
  }
  return Number(m[1]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Checks rule 2 of the module header; returns the seed checkpoint. */
async function checkSeedCheckpoint(
  c: CheckList,
  b: BundleVerification,
  disclosure: CanaryDisclosure,
  trust: TrustRoot,
  options: DisclosureOptions,
): Promise<Checkpoint> {
  const at = b.attestationIndex;
  const seed = c.run("seed_checkpoint.present", "seed_not_first", () => {
    const s = disclosure.seed;
    if (s?.checkpoint === undefined) {
      throw new AuditError(
        "seed_not_first",
        "the disclosure lacks the first covering checkpoint and its evidence (seed)",
      );
    }
    if (s.leafIndex !== BigInt(at))
      throw new AuditError("seed_not_first", "the seed evidence is for another leaf than the attestation");
    if (
      disclosure.seedCheckpoint !== undefined &&
      !sameBytes(disclosure.seedCheckpoint.signedNote, s.checkpoint.signedNote)
    ) {
      throw new AuditError("seed_not_first", "seed_checkpoint is not the first covering checkpoint");
    }
    if (s.previousConsistency.length > 64 || disclosure.seedConsistency.length > 64)
      throw new AuditError("too_large", "a seed consistency proof has more than 64 hashes");
    return { ...s, checkpoint: s.checkpoint };
  });
  const seedCp = c.run("seed_checkpoint.signature", "bad_signature", () => {
    const cp = openHubCheckpoint(seed.checkpoint.signedNote, trust);
    if (cp.origin !== b.checkpoint.origin)
      throw new AuditError("wrong_entry", "seed checkpoint is of another log");
    if (cp.size <= at) {
      throw new AuditError(
        "sample_mismatch",
        "the seed checkpoint does not cover the attestation (chosen before it)",
      );
    }
    return cp;
  });
  const prevSize = c.run(
    "seed_checkpoint.first",
    "seed_not_first",
    () => {
      const n = previousSizeOf(seedCp);
      if (n > at) {
        throw new AuditError(
          "seed_not_first",
          `the seed checkpoint (size ${seedCp.size}) is not the first covering entry ${at}: the hub had already signed one of size ${n}`,
        );
      }
      return n;
    },
    undefined,
  );
  if (prevSize > 0) {
    const prev = c.run("seed_checkpoint.previous", "seed_not_first", () => {
      if (seed.previous === undefined) {
        throw new AuditError("seed_not_first", "the checkpoint signed before the seed checkpoint is missing");
      }
      const cp = openHubCheckpoint(seed.previous.signedNote, trust);
      if (cp.origin !== seedCp.origin)
        throw new AuditError("wrong_entry", "previous checkpoint is of another log");
      if (cp.size !== prevSize) {
        throw new AuditError(
          "seed_not_first",
          `the previous checkpoint has size ${cp.size}, the seed checkpoint names ${prevSize}`,
        );
      }
      return cp;
    });
    c.run("seed_checkpoint.previous_consistency", "split_view", () =>
      checkExtends(prev, seedCp, seed.previousConsistency),
    );
  } else if (seed.previous !== undefined) {
    c.fail(
      "seed_checkpoint.previous",
      "seed_not_first",
      "a previous checkpoint is given for the log's first",
    );
  }
  if (b.checkpoint.size < seedCp.size) {
    c.fail(
      "seed_checkpoint.consistency",
      "seed_not_first",
      `the bundle's checkpoint (size ${b.checkpoint.size}) covers the attestation but is older than the seed checkpoint`,
    );
  }
  let proof: readonly Uint8Array[] = disclosure.seedConsistency;
  if (seedCp.size !== b.checkpoint.size && proof.length === 0) {
    if (options.hub === undefined) {
      throw new AuditError(
        "unavailable",
        "the package has no consistency proof from the seed checkpoint to the bundle's: give --hub to fetch one",
        { checks: c.checks },
      );
    }
    proof = await options.hub.consistencyProof(seedCp.size, b.checkpoint.size);
  }
  c.run("seed_checkpoint.consistency", "split_view", () => checkExtends(seedCp, b.checkpoint, proof));
  return seedCp;
}

/** The seed context string (see the module header). */
export function disclosureContext(origin: string, attestationIndex: number): string {
  return `lineage/disclosure/v1\n${origin}\n${attestationIndex}`;
}

/** Least hits in `n` draws consistent with rate `p` (one-sided 99% normal lower bound, at least 1). */
export function hitsNeeded(n: number, p: number): number {
  const mean = n * p;
  const sd = Math.sqrt(n * p * (1 - p));
  return Math.max(1, Math.ceil(mean - 2.326 * sd));
}

/**
 * Asks the live suspect one canary through the engine's adapter (which bounds and validates the
 * untrusted response). A failure to get an answer means nothing was checked: `unavailable`.
 */
async function askLive(
  suspect: ModelAdapter,
  prompt: string,
  c: CheckList,
  signal: AbortSignal | undefined,
): Promise<ModelResponse> {
  try {
    const r = await suspect.generate({
      ...CANARY_REQUEST,
      prompt,
      ...(signal === undefined ? {} : { signal }),
    });
    return {
      text: r.text.slice(0, MAX_RESPONSE_CHARS),
      ...(r.tokens ? { tokens: r.tokens.slice(0, CANARY_LOGPROB_POSITIONS) } : {}),
    };
  } catch (cause) {
    const why = cause instanceof FingerprintError ? cause.code : "error";
    throw new AuditError("unavailable", `the suspect could not be queried (${why})`, {
      cause,
      checks: c.checks,
    });
  }
}

/** A recorded response as the hit rule reads it; its positions are bounded (attacker-controlled). */
function recordedResponse(r: RecordedResponse): ModelResponse {
  if (r.firstPositions.length > CANARY_LOGPROB_POSITIONS) {
    throw new AuditError(
      "too_large",
      `a recorded response has ${r.firstPositions.length} positions; at most ${CANARY_LOGPROB_POSITIONS}`,
    );
  }
  const long = (t: string) => t.length > MAX_RECORDED_TOKEN_CHARS;
  for (const p of r.firstPositions) {
    if (p.alternatives.length > CANARY_TOP_LOGPROBS)
      throw new AuditError(
        "too_large",
        `a recorded position has more than ${CANARY_TOP_LOGPROBS} alternatives`,
      );
    if (long(p.token) || p.alternatives.some(long))
      throw new AuditError("too_large", `a recorded token exceeds ${MAX_RECORDED_TOKEN_CHARS} characters`);
  }
  if (r.firstPositions.length === 0) return { text: r.response };
  return {
    text: r.response,
    tokens: r.firstPositions.map((p) => ({
      token: p.token,
      top: p.alternatives.map((token) => ({ token, logprob: 0 })),
    })),
  };
}

/** Verifies a disclosure; throws {@link AuditError} on the first failed check. */
export async function verifyDisclosure(
  bundle: AttestationBundle,
  disclosure: CanaryDisclosure,
  responses: readonly RecordedResponse[],
  trust: TrustRoot,
  options: DisclosureOptions = {},
): Promise<DisclosureReport> {
  const b = verifyBundle(bundle, trust);
  const c = new CheckList();
  for (const ch of b.checks) c.pass(ch.name, ch.detail);
  const com = c.run("disclosure.commitment", "wrong_entry", () => {
    if (b.commitment === undefined)
      throw new AuditError("wrong_entry", "the attestation relied on no canary commitment");
    if (disclosure.commitmentId !== b.commitment.body.commitmentId) {
      throw new AuditError("wrong_entry", "the disclosure is for another commitment than the attestation's");
    }
    return b.commitment.body;
  });
  const count = Number(com.canaryCount);
  const n = disclosure.sampleSize;
  c.run("disclosure.shape", "malformed", () => {
    if (n < 1 || n > MAX_DISCLOSED_CANARIES || n > count) {
      throw new AuditError(
        "malformed",
        `sample_size must be 1..min(${MAX_DISCLOSED_CANARIES}, canary_count)`,
      );
    }
    if (disclosure.canaries.length !== n)
      throw new AuditError("malformed", "the number of canaries is not sample_size");
    if (responses.length > MAX_DISCLOSED_CANARIES)
      throw new AuditError("too_large", "more than 1024 recorded responses");
  });

  // The seed comes from the FIRST hub-signed checkpoint covering the attestation — no choice left.
  const seedCp = await checkSeedCheckpoint(c, b, disclosure, trust, options);

  c.run("disclosure.sample", "sample_mismatch", () => {
    const seed = deriveSeed(
      seedCp.rootHash,
      com.merkleRoot,
      disclosureContext(seedCp.origin, b.attestationIndex),
    );
    const want = sampleIndices(seed, count, n);
    const got = disclosure.canaries.map((x) => Number(x.leafIndex));
    if (want.some((w, i) => got[i] !== w)) {
      throw new AuditError(
        "sample_mismatch",
        "the disclosed canaries are not the sample the log-derived seed selects",
      );
    }
  });
  disclosure.canaries.forEach((canary, i) => {
    c.run(`canary[${i}].proof`, "bad_proof", () => {
      if (canary.path.length > 64) throw new AuditError("too_large", "canary path has more than 64 hashes");
      try {
        verifyCanaryDisclosure(
          { root: com.merkleRoot, size: count },
          {
            index: Number(canary.leafIndex),
            salt: canary.salt,
            item: canaryItemBytes(canary.prompt, canary.expected),
            proof: canary.path,
          },
        );
      } catch (cause) {
        if (cause instanceof AuditError) throw cause;
        if (isCryptoError(cause) && (cause.code === "too_large" || cause.code === "malformed")) {
          throw new AuditError(cause.code, `the canary is not well formed: ${cause.message}`, { cause });
        }
        throw new AuditError("bad_proof", "the canary does not open the committed root", { cause });
      }
    });
  });

  const claimed = b.statement.evidence?.tests.find((t) => t.kind === TestKind.CANARY);
  const rate = c.run("attestation.canary_claim", "wrong_entry", () => {
    if (claimed === undefined || claimed.trials === 0) {
      throw new AuditError("wrong_entry", "the attestation reports no canary test to reproduce");
    }
    if (claimed.hits > claimed.trials)
      throw new AuditError("malformed", "the attestation claims more hits than trials");
    return claimed.hits / claimed.trials;
  });
  const need = hitsNeeded(n, rate);
  let hits = 0;
  const answers: DisclosureReport["answers"] = options.suspect === undefined ? "recorded" : "live";
  if (options.suspect !== undefined) {
    for (const canary of disclosure.canaries) {
      const answer = await askLive(options.suspect, canary.prompt, c, options.signal);
      if (canaryResponseHit(canary.expected, answer)) hits++;
    }
  } else {
    const byIndex = new Map<bigint, ModelResponse>();
    for (const r of responses) {
      if (r.response.length > MAX_RESPONSE_CHARS)
        throw new AuditError("too_large", `a recorded response exceeds ${MAX_RESPONSE_CHARS} characters`);
      byIndex.set(r.leafIndex, recordedResponse(r));
    }
    if (byIndex.size === 0) {
      throw new AuditError(
        "invalid_argument",
        "no recorded responses in the package: give --suspect to re-query",
        {
          checks: c.checks,
        },
      );
    }
    for (const canary of disclosure.canaries) {
      const answer = byIndex.get(canary.leafIndex);
      if (answer !== undefined && canaryResponseHit(canary.expected, answer)) hits++;
    }
  }
  if (hits < need) {
    c.fail(
      "suspect.hits",
      "hits_not_reproduced",
      `${hits} of ${n} canaries hit; at least ${need} needed for the claimed rate`,
    );
  }
  c.pass("suspect.hits", `${hits} of ${n} canaries hit (${answers}); at least ${need} needed`);
  return {
    checks: c.checks,
    attestationIndex: b.attestationIndex,
    sampleSize: n,
    hits,
    hitsNeeded: need,
    answers,
  };
}
