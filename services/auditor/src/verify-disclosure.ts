/**
 * `lineage audit disclosure`: checks a member's disclosure of canary PAIRS (docs/specs/disclosure.md;
 * attestation_bundle.proto CanaryDisclosure fields 7-9) trusting only the hub key:
 *   1. the attestation bundle verifies (verify-bundle.ts, protocol v2: its verdict re-derived from its
 *      counts) and names a canary pair commitment logged before the suspect was first seen;
 *   2. the sample size is the protocol's, DISCLOSURE_PAIRS = min(pairs_committed, 32)
 *      (`sample_size_mismatch`): the member cannot choose how much to show;
 *   3. the seed checkpoint is the FIRST the hub signed whose tree covers the attestation (its signed
 *      "lineage-previous-size" line, the checkpoint before it and a consistency proof; `seed_not_first`),
 *      consistent with the bundle's checkpoint, and the disclosed pairs are exactly
 *      disclosurePairIndices(its root, commitment root, origin, attestation index), in order
 *      (`sample_mismatch`). When the auditor trusts witnesses the seed is the WITNESSED one (v2): the seed
 *      checkpoint must carry the quorum of trusted cosignatures (`witness_quorum`, `bad_cosignature`),
 *      timestamped within SEED_COSIGN_WINDOW_S after the attestation's integration (`seed_not_witnessed`),
 *      and the sample is witnessedDisclosurePairIndices over them;
 *   4. the label checkpoint is the FIRST the hub signed whose tree covers the commitment, with the same
 *      evidence (`label_mismatch` otherwise: a later checkpoint would let a member pick which item of each
 *      pair counts as exposed); canaryPairLabels of it decides each pair's exposed item;
 *   5. each pair opens the committed root (salt, pair id, both items, RFC 6962 path; `bad_proof`);
 *   6. both items of every sampled pair are answered — re-queried live through @lineage/fingerprint's
 *      model adapter, asked as the engine asks canaries, or read from the package's recorded responses —
 *      and judged by the engine's own rule, `canaryResponseHit`;
 *   7. the paired counts recomputed on the sample are checked against the statement's claim (rule
 *      below; `hits_not_reproduced`);
 *   8. recorded answers are the member's claim, not the suspect's: the outcome is `claim_not_checked`
 *      (a failed verification, exit 1) even when every check passed. Only a live re-query verifies.
 *
 * The rule of 7. The sample is a uniformly random subset of n of the N committed pairs (3). If the claim
 * is true, at least b = exposed_only of the N pairs are exposed-only, so the sample's exposed-only count
 * X is at least Hypergeometric(N, b, n) distributed (stochastically); the disclosure fails when
 * P(X <= observed) < 1%, i.e. below the claim's 1% lower quantile. Symmetrically, at most
 * c + (N - pairs_completed) pairs can be decoy-only (uncompleted pairs may be anything), and a sample
 * whose decoy-only count is above that bound's 99% quantile fails too (a claim that hid decoy hits).
 *
 * The package is attacker-controlled; every count and size is bounded.
 */
import type {
  AttestationBundle,
  CanaryDisclosure,
  DisclosedCanaryPair,
  FirstCoveringCheckpoint,
  RecordedResponse,
} from "@lineage/api";
import {
  bytesEqual,
  type CanaryPairLabel,
  type Checkpoint,
  canaryPairLabels,
  DISCLOSURE_PAIRS,
  disclosurePairCount,
  disclosurePairIndices,
  isCryptoError,
  verifyCanaryPairDisclosure,
  witnessedDisclosurePairIndices,
} from "@lineage/crypto";
import {
  CANARY_LOGPROB_POSITIONS,
  CANARY_TOP_LOGPROBS,
  type CanaryPairCounts,
  canaryResponseHit,
  FingerprintError,
  type GenerateRequest,
  hypergeometricUpperTail,
  type ModelAdapter,
  type ModelResponse,
} from "@lineage/fingerprint";
import { type AuditCheck, AuditError, CheckList } from "./audit-error.js";
import { trustWithRotations } from "./hub-key-history.js";
import { openHubCheckpoint } from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";
import { type BundleVerification, verifyBundle } from "./verify-bundle.js";
import { type CheckpointSource, checkExtends } from "./verify-consistency.js";
import { checkWitnessQuorum } from "./witness-quorum.js";

/** Most pairs (and recorded responses: two per pair) a disclosure may carry. */
export const MAX_DISCLOSED_PAIRS = DISCLOSURE_PAIRS;

/** Level of the claim check: a sample less likely than this under the claim fails. */
export const CLAIM_CHECK_LEVEL = 0.01;

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
  /**
   * Trusted witnesses that must have cosigned the bundle's checkpoint and the seed checkpoint (default: 1
   * when the trust root lists any witness, else 0). With any, the seed is the witnessed one (v2).
   */
  readonly witnessQuorum?: number;
}

/**
 * How long after the attestation's integration a cosignature of its seed checkpoint may be (s): the hub
 * sends every checkpoint to its witnesses at once; one it held back (to try witnesses one by one, or to
 * wait) is refused. The cosignature cannot be earlier than the integration: the checkpoint includes it.
 */
export const SEED_COSIGN_WINDOW_S = 3600;

/** Paired counts on the disclosed sample, recomputed by the auditor. */
export interface SampleCounts {
  /** Pairs in the sample (all completed: both items answered). */
  readonly pairs: number;
  readonly exposedOnly: number;
  readonly decoyOnly: number;
  readonly bothHit: number;
  readonly neither: number;
}

/** The outcome of a disclosure whose every check passed. */
export interface DisclosureReport {
  readonly checks: readonly AuditCheck[];
  readonly attestationIndex: number;
  /** Pairs disclosed: the protocol's DISCLOSURE_PAIRS for the commitment. */
  readonly sampleSize: number;
  readonly sample: SampleCounts;
  /** The statement's claim the sample was checked against. */
  readonly claim: CanaryPairCounts;
  /** The least exposed-only pairs in the sample consistent with the claim (its 1% lower quantile). */
  readonly exposedOnlyNeeded: number;
  /** The most decoy-only pairs in the sample consistent with the claim (99% upper quantile). */
  readonly decoyOnlyAllowed: number;
  /** Where the answers came from. */
  readonly answers: "live" | "recorded";
  /**
   * `verified` only when the suspect itself was re-queried; `claim_not_checked` when the answers came
   * from the package: a claim, not checked against the suspect (exit 1).
   */
  readonly outcome: "verified" | "claim_not_checked";
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

/** The "first covering checkpoint" evidence of a disclosure, and where its failures are reported. */
interface FirstCoveringInput {
  /** Check name prefix, e.g. "seed_checkpoint". */
  readonly name: string;
  /** The leaf the checkpoint must be the first to cover. */
  readonly leafIndex: number;
  readonly evidence: FirstCoveringCheckpoint | undefined;
  /** Consistency proof from the evidence's checkpoint to the bundle's. */
  readonly consistency: readonly Uint8Array[];
  /** Code of a failure of the "first" property (the choice it would let a member make). */
  readonly code: "seed_not_first" | "label_mismatch";
}

/**
 * Checks that `input.evidence` holds the FIRST checkpoint the hub signed whose tree covers
 * `input.leafIndex` (its signed previous-size line, the previous checkpoint and a consistency proof
 * between them), and that the bundle's checkpoint extends it. Returns that checkpoint.
 */
async function checkFirstCovering(
  c: CheckList,
  b: BundleVerification,
  input: FirstCoveringInput,
  trust: TrustRoot,
  options: DisclosureOptions,
): Promise<Checkpoint> {
  const { name, leafIndex: at, code } = input;
  const ev = c.run(`${name}.present`, code, () => {
    const s = input.evidence;
    if (s?.checkpoint === undefined) {
      throw new AuditError(
        code,
        `the disclosure lacks the first checkpoint covering entry ${at} and its evidence`,
      );
    }
    if (s.leafIndex !== BigInt(at))
      throw new AuditError(code, `the evidence is for another leaf than entry ${at}`);
    if (s.previousConsistency.length > 64 || input.consistency.length > 64)
      throw new AuditError("too_large", "a consistency proof has more than 64 hashes");
    return { ...s, checkpoint: s.checkpoint };
  });
  const cp = c.run(`${name}.signature`, "bad_signature", () => {
    const opened = openHubCheckpoint(ev.checkpoint.signedNote, trust);
    if (opened.origin !== b.checkpoint.origin)
      throw new AuditError("wrong_entry", `${name} is of another log`);
    if (opened.size <= at) {
      throw new AuditError(code, `the checkpoint (size ${opened.size}) does not cover entry ${at}`);
    }
    return opened;
  });
  const prevSize = c.run(`${name}.first`, code, () => {
    let n: number;
    try {
      n = previousSizeOf(cp);
    } catch (err) {
      throw new AuditError(code, (err as Error).message, { cause: err });
    }
    if (n > at) {
      throw new AuditError(
        code,
        `the checkpoint of size ${cp.size} is not the first covering entry ${at}: the hub had already signed one of size ${n}`,
      );
    }
    return n;
  });
  if (prevSize > 0) {
    const prev = c.run(`${name}.previous`, code, () => {
      if (ev.previous === undefined) {
        throw new AuditError(code, "the checkpoint signed before it is missing");
      }
      const p = openHubCheckpoint(ev.previous.signedNote, trust);
      if (p.origin !== cp.origin)
        throw new AuditError("wrong_entry", "previous checkpoint is of another log");
      if (p.size !== prevSize) {
        throw new AuditError(
          code,
          `the previous checkpoint has size ${p.size}, the checkpoint names ${prevSize}`,
        );
      }
      return p;
    });
    c.run(`${name}.previous_consistency`, "split_view", () => checkExtends(prev, cp, ev.previousConsistency));
  } else if (ev.previous !== undefined) {
    c.fail(`${name}.previous`, code, "a previous checkpoint is given for the log's first");
  }
  if (b.checkpoint.size < cp.size) {
    c.fail(
      `${name}.consistency`,
      code,
      `the bundle's checkpoint (size ${b.checkpoint.size}) is older than the checkpoint of size ${cp.size}`,
    );
  }
  let proof: readonly Uint8Array[] = input.consistency;
  if (cp.size !== b.checkpoint.size && proof.length === 0) {
    if (options.hub === undefined) {
      throw new AuditError(
        "unavailable",
        `the package has no consistency proof from the ${name} to the bundle's: give --hub to fetch one`,
        { checks: c.checks },
      );
    }
    proof = await options.hub.consistencyProof(cp.size, b.checkpoint.size);
  }
  c.run(`${name}.consistency`, "split_view", () => checkExtends(cp, b.checkpoint, proof));
  return cp;
}

/**
 * The claim's 1% lower quantile of exposed-only pairs in a sample of `draws` of `population` pairs of
 * which `successes` are exposed-only: the least x with P(X <= x) >= `level` for X ~ Hypergeometric. A
 * sample below it fails (module header, rule of 7).
 */
export function exposedOnlyNeeded(
  population: number,
  successes: number,
  draws: number,
  level = CLAIM_CHECK_LEVEL,
): number {
  for (let x = 0; x <= draws; x++) {
    if (1 - hypergeometricUpperTail(x + 1, population, successes, draws) >= level) return x;
  }
  return draws;
}

/**
 * The claim's 99% upper quantile of decoy-only pairs in the sample, when at most `successes` of the
 * `population` pairs can be decoy-only: the most x with P(X >= x) >= `level`. A sample above it fails.
 */
export function decoyOnlyAllowed(
  population: number,
  successes: number,
  draws: number,
  level = CLAIM_CHECK_LEVEL,
): number {
  for (let x = draws; x >= 0; x--) {
    if (hypergeometricUpperTail(x, population, successes, draws) >= level) return x;
  }
  return 0;
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

/** A pair as the crypto library opens it. */
function pairOf(p: DisclosedCanaryPair) {
  return {
    pairId: p.pairId,
    a: { prompt: p.promptA, expected: p.expectedA },
    b: { prompt: p.promptB, expected: p.expectedB },
  };
}

/**
 * The recorded answers, by pair and item; both items of every sampled pair must be there, once each
 * (attacker-controlled: an answer for a pair outside the sample, or a missing one, is `malformed`).
 */
function recordedAnswers(
  responses: readonly RecordedResponse[],
  sampled: ReadonlySet<bigint>,
): Map<string, ModelResponse> {
  if (responses.length > 2 * MAX_DISCLOSED_PAIRS) {
    throw new AuditError("too_large", `more than ${2 * MAX_DISCLOSED_PAIRS} recorded responses`);
  }
  const out = new Map<string, ModelResponse>();
  for (const r of responses) {
    if (r.response.length > MAX_RESPONSE_CHARS)
      throw new AuditError("too_large", `a recorded response exceeds ${MAX_RESPONSE_CHARS} characters`);
    if (r.item !== 0 && r.item !== 1)
      throw new AuditError("malformed", "a recorded response's item must be 0 or 1");
    if (!sampled.has(r.leafIndex))
      throw new AuditError(
        "malformed",
        `a recorded response is for pair ${r.leafIndex}, which is not in the sample`,
      );
    const key = `${r.leafIndex}/${r.item}`;
    if (out.has(key))
      throw new AuditError("malformed", `pair ${r.leafIndex} item ${r.item} is answered twice`);
    out.set(key, recordedResponse(r));
  }
  for (const i of sampled) {
    for (const item of [0, 1]) {
      if (!out.has(`${i}/${item}`))
        throw new AuditError("malformed", `pair ${i} item ${item === 0 ? "a" : "b"} has no recorded answer`);
    }
  }
  return out;
}

/**
 * Verifies a paired disclosure (module header). Throws {@link AuditError} on the first failed check;
 * returns a report whose `outcome` is `claim_not_checked` when the answers came from the package.
 */
export async function verifyDisclosure(
  bundle: AttestationBundle,
  disclosure: CanaryDisclosure,
  responses: readonly RecordedResponse[],
  rootTrust: TrustRoot,
  options: DisclosureOptions = {},
): Promise<DisclosureReport> {
  const witnessQuorum = options.witnessQuorum ?? ((rootTrust.witnesses?.length ?? 0) > 0 ? 1 : 0);
  const b = verifyBundle(bundle, rootTrust, { witnessQuorum });
  // The disclosure's checkpoints are opened under the roots the bundle's hub key statements establish.
  const trust = trustWithRotations(rootTrust, b.hubKeys);
  const c = new CheckList();
  for (const ch of b.checks) c.pass(ch.name, ch.detail);
  const { com, claim } = c.run("disclosure.commitment", "wrong_entry", () => {
    const claimed = b.bound.evidence.canary;
    if (b.commitment === undefined || claimed === undefined)
      throw new AuditError("wrong_entry", "the attestation relied on no canary commitment");
    if (disclosure.commitmentId !== b.commitment.body.commitmentId) {
      throw new AuditError("wrong_entry", "the disclosure is for another commitment than the attestation's");
    }
    if (disclosure.canaries.length > 0) {
      throw new AuditError("malformed", "a paired (v2) disclosure carries pairs, not single canaries");
    }
    return { com: b.commitment, claim: claimed };
  });
  const count = Number(com.body.canaryCount);
  const n = c.run("disclosure.sample_size", "sample_size_mismatch", () => {
    const need = disclosurePairCount(count);
    if (disclosure.pairs.length !== need || (disclosure.sampleSize !== 0 && disclosure.sampleSize !== need)) {
      throw new AuditError(
        "sample_size_mismatch",
        `the protocol fixes the sample at ${need} pairs (min(${count}, ${DISCLOSURE_PAIRS})); the disclosure has ${disclosure.pairs.length}${disclosure.sampleSize !== 0 ? ` and says ${disclosure.sampleSize}` : ""}`,
      );
    }
    return need;
  });

  // The seed: the FIRST hub-signed checkpoint covering the attestation — no choice left.
  if (
    disclosure.seedCheckpoint !== undefined &&
    disclosure.seed?.checkpoint !== undefined &&
    !bytesEqual(disclosure.seedCheckpoint.signedNote, disclosure.seed.checkpoint.signedNote)
  ) {
    c.fail(
      "seed_checkpoint.present",
      "seed_not_first",
      "seed_checkpoint is not the first covering checkpoint",
    );
  }
  const seedCp = await checkFirstCovering(
    c,
    b,
    {
      name: "seed_checkpoint",
      leafIndex: b.attestationIndex,
      evidence: disclosure.seed,
      consistency: disclosure.seedConsistency,
      code: "seed_not_first",
    },
    trust,
    options,
  );
  // Witnessed (v2) when the auditor trusts witnesses: the seed checkpoint's cosignatures join the seed, so
  // the hub cannot know the sample before a witness signs (docs/specs/disclosure.md).
  const seedCosignatures =
    witnessQuorum === 0
      ? undefined
      : c.run("seed_checkpoint.witnesses", "witness_quorum", () => {
          const q = checkWitnessQuorum(
            disclosure.seed?.checkpoint?.signedNote ?? new Uint8Array(0),
            trust,
            witnessQuorum,
          );
          const from = Math.floor(b.attestationIntegratedAtMs / 1000);
          for (const [i, t] of q.timestamps.entries()) {
            if (t < from || t > from + SEED_COSIGN_WINDOW_S) {
              throw new AuditError(
                "seed_not_witnessed",
                `the cosignature by ${q.cosigners[i]} is timestamped ${t}, outside [${from}, ${from + SEED_COSIGN_WINDOW_S}] (the attestation's integration and ${SEED_COSIGN_WINDOW_S} s after)`,
              );
            }
          }
          return q.signatures;
        });
  c.run(
    "disclosure.sample",
    "sample_mismatch",
    () => {
      const input = {
        checkpointRoot: seedCp.rootHash,
        commitmentRoot: com.body.merkleRoot,
        origin: seedCp.origin,
        attestationIndex: b.attestationIndex,
        pairsCommitted: count,
      };
      const want =
        seedCosignatures === undefined
          ? disclosurePairIndices(input)
          : witnessedDisclosurePairIndices({ ...input, cosignatures: seedCosignatures });
      const got = disclosure.pairs.map((x) => x.leafIndex);
      if (want.some((w, i) => got[i] !== BigInt(w))) {
        throw new AuditError(
          "sample_mismatch",
          "the disclosed pairs are not the sample the log-derived seed selects",
        );
      }
    },
    seedCosignatures === undefined
      ? "seed v1 (no witness trusted): the hub chose when to sign the seed checkpoint and could have ground it"
      : `witnessed seed (v2): ${seedCosignatures.length} witness cosignature(s) of the seed checkpoint mixed in`,
  );

  // The labels: the FIRST hub-signed checkpoint covering the commitment decides each exposed item.
  const labelCp = await checkFirstCovering(
    c,
    b,
    {
      name: "label_checkpoint",
      leafIndex: com.index,
      evidence: disclosure.labelCheckpoint,
      consistency: disclosure.labelConsistency,
      code: "label_mismatch",
    },
    trust,
    options,
  );
  const labels: readonly CanaryPairLabel[] = canaryPairLabels({
    checkpointRoot: labelCp.rootHash,
    checkpointSize: labelCp.size,
    commitmentRoot: com.body.merkleRoot,
    pairs: count,
  });

  disclosure.pairs.forEach((pair, i) => {
    c.run(`pair[${i}].proof`, "bad_proof", () => {
      if (pair.path.length > 64) throw new AuditError("too_large", "pair path has more than 64 hashes");
      try {
        verifyCanaryPairDisclosure(
          { root: com.body.merkleRoot, size: count },
          { index: Number(pair.leafIndex), salt: pair.salt, pair: pairOf(pair), proof: pair.path },
        );
      } catch (cause) {
        if (isCryptoError(cause) && (cause.code === "too_large" || cause.code === "malformed")) {
          throw new AuditError(cause.code, `the pair is not well formed: ${cause.message}`, { cause });
        }
        throw new AuditError("bad_proof", "the pair does not open the committed root", { cause });
      }
    });
  });

  // Answers to both items of every sampled pair, judged by the engine's hit rule.
  const answers: DisclosureReport["answers"] = options.suspect === undefined ? "recorded" : "live";
  const recorded =
    options.suspect === undefined
      ? c.run("answers.recorded", "malformed", () =>
          recordedAnswers(responses, new Set(disclosure.pairs.map((p) => p.leafIndex))),
        )
      : undefined;
  let exposedOnly = 0;
  let decoyOnly = 0;
  let bothHit = 0;
  for (const pair of disclosure.pairs) {
    const hit: boolean[] = [];
    for (const [item, prompt, expected] of [
      [0, pair.promptA, pair.expectedA],
      [1, pair.promptB, pair.expectedB],
    ] as const) {
      const answer =
        options.suspect === undefined
          ? (recorded?.get(`${pair.leafIndex}/${item}`) as ModelResponse)
          : await askLive(options.suspect, prompt, c, options.signal);
      hit.push(canaryResponseHit(expected, answer));
    }
    const exposed = labels[Number(pair.leafIndex)] === 0 ? 0 : 1;
    const e = hit[exposed] === true;
    const d = hit[1 - exposed] === true;
    if (e && d) bothHit++;
    else if (e) exposedOnly++;
    else if (d) decoyOnly++;
  }
  const sample: SampleCounts = {
    pairs: n,
    exposedOnly,
    decoyOnly,
    bothHit,
    neither: n - exposedOnly - decoyOnly - bothHit,
  };
  const needE = exposedOnlyNeeded(count, claim.exposed_only, n);
  const maxD = decoyOnlyAllowed(
    count,
    Math.min(count, claim.decoy_only + (count - claim.pairs_completed)),
    n,
  );
  const seen = `${exposedOnly} exposed-only, ${decoyOnly} decoy-only, ${bothHit} both of ${n} sampled pairs (${answers})`;
  if (exposedOnly < needE) {
    c.fail(
      "sample.exposed_only",
      "hits_not_reproduced",
      `${seen}; the claim (${claim.exposed_only} exposed-only of ${count} pairs) needs at least ${needE} (its 1% lower quantile)`,
    );
  }
  c.pass("sample.exposed_only", `${seen}; at least ${needE} needed`);
  if (decoyOnly > maxD) {
    c.fail(
      "sample.decoy_only",
      "hits_not_reproduced",
      `${decoyOnly} decoy-only sampled pairs; the claim (${claim.decoy_only} decoy-only of ${claim.pairs_completed} completed) allows at most ${maxD}`,
    );
  }
  c.pass("sample.decoy_only", `at most ${maxD} allowed`);
  if (answers === "recorded") {
    c.pass("suspect.answers", "claim, not checked against the suspect: the answers come from the package");
  } else {
    c.pass("suspect.answers", "re-queried live");
  }
  return {
    checks: c.checks,
    attestationIndex: b.attestationIndex,
    sampleSize: n,
    sample,
    claim,
    exposedOnlyNeeded: needE,
    decoyOnlyAllowed: maxD,
    answers,
    outcome: answers === "live" ? "verified" : "claim_not_checked",
  };
}
