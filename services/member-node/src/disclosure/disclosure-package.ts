/**
 * `lineage member disclose`: the package `lineage audit disclosure` reads (docs/specs/disclosure.md;
 * proto VerifyDisclosureRequest), for one answered session, built from what the log fixes — never from a
 * member's choice:
 *   - the attestation bundle (from the hub), checked to hold this node's own signed attestation;
 *   - the sample: disclosurePairIndices over the FIRST hub-signed checkpoint covering the attestation, the
 *     commitment root, the origin and the attestation index; its size is the protocol's. With the auditor's
 *     trusted witnesses named, the witnessed sample (v2, spec 2b): their cosignatures of that checkpoint are
 *     mixed in (seed-witnesses.ts), and the seed note carries only those lines besides the hub's;
 *   - the labels' checkpoint: the FIRST covering the commitment, with its evidence;
 *   - each sampled pair opened (salt, both items, RFC 6962 path) and the suspect's recorded answers to it.
 * The plaintext holds canaries: it is only ever written sealed to one auditor's key (disclosure-envelope.ts).
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type AttestationBundle,
  LogLeafSchema,
  MatchSessionAnswerSchema,
  type RecordedResponse,
  type VerifyDisclosureRequest,
  VerifyDisclosureRequestSchema,
} from "@lineage/api";
import { bytesEqual, disclosurePairIndices, witnessedDisclosurePairIndices } from "@lineage/crypto";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import type { CanarySets } from "../canaries/canary-sets.js";
import {
  firstCoveringCheckpoint,
  type HubLogClient,
  type HubLogTrust,
  openHubCheckpoint,
} from "../canaries/hub-log.js";
import { MemberNodeError } from "../member-node-error.js";
import { countSeedCosignatures, type SeedWitnesses } from "./seed-witnesses.js";

/** What building a disclosure needs. */
export interface DisclosureDeps {
  readonly store: Store<MemberNodeDatabase>;
  readonly hub: HubLogClient | undefined;
  readonly hubLog: HubLogTrust;
  readonly canaries: CanarySets;
}

/** Builds the (plaintext) disclosure package of session `sessionId` (module header). */
export async function buildDisclosurePackage(
  d: DisclosureDeps,
  sessionId: string,
  signal?: AbortSignal,
  witnesses?: SeedWitnesses,
): Promise<VerifyDisclosureRequest> {
  if (typeof sessionId !== "string" || sessionId.length === 0 || sessionId.length > 64)
    throw new MemberNodeError("invalid_argument", "the session id must be 1..64 characters");
  const row = await d.store.db
    .selectFrom("match_sessions")
    .selectAll()
    .where("session_id", "=", sessionId)
    .executeTakeFirst();
  if (row === undefined) throw new MemberNodeError("not_found", `no session ${sessionId} on this node`);
  if (row.answer === null)
    throw new MemberNodeError("failed_precondition", `session ${sessionId} is not answered yet`);
  const answer = fromBinary(MatchSessionAnswerSchema, row.answer);
  if (answer.outcome.case !== "attestation")
    throw new MemberNodeError(
      "failed_precondition",
      `session ${sessionId} was declined: there is nothing to disclose`,
    );
  const commitmentId = row.commitment_id;
  if (commitmentId === null)
    throw new MemberNodeError("failed_precondition", `session ${sessionId} used no canary set`);
  const hub = d.hub;
  if (hub === undefined)
    throw new MemberNodeError(
      "failed_precondition",
      "no hub is configured: the bundle and checkpoints come from the log",
    );
  const opts = signal === undefined ? {} : { signal };

  let bundle: AttestationBundle | undefined;
  try {
    bundle = (await hub.getAttestationBundle({ selector: { case: "sessionId", value: sessionId } }, opts))
      .bundle;
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code;
    throw new MemberNodeError(
      code === "not_found" ? "not_found" : "unavailable",
      `the hub has no logged attestation for session ${sessionId}`,
      { cause },
    );
  }
  const entry = bundle?.attestation?.entry;
  if (bundle === undefined || entry === undefined || bundle.checkpoint === undefined)
    throw new MemberNodeError("malformed", "the hub sent an incomplete attestation bundle");
  const logged = fromBinary(LogLeafSchema, entry.leaf).envelope;
  if (logged === undefined || !bytesEqual(logged.payload, answer.outcome.value.payload))
    throw new MemberNodeError(
      "malformed",
      "the logged attestation is not the one this node signed for the session",
    );
  const attestationIndex = Number(entry.index);
  const bundleCp = openHubCheckpoint(bundle.checkpoint.signedNote, d.hubLog);

  const set = await d.store.db
    .selectFrom("canary_sets")
    .selectAll()
    .where("commitment_id", "=", commitmentId)
    .executeTakeFirst();
  if (set?.log_index === null || set === undefined)
    throw new MemberNodeError("not_found", `canary set ${commitmentId} is not committed on this node`);
  const seed = await firstCoveringCheckpoint(hub, d.hubLog, attestationIndex, signal, bundleCp.size);
  const label = await firstCoveringCheckpoint(hub, d.hubLog, Number(set.log_index), signal, bundleCp.size);
  if (set.label_checkpoint_size !== null && BigInt(label.checkpoint.size) !== set.label_checkpoint_size)
    throw new MemberNodeError(
      "malformed",
      "the hub names another first checkpoint for the commitment than the one the labels came from",
    );

  const sampleInput = {
    checkpointRoot: seed.checkpoint.rootHash,
    commitmentRoot: set.merkle_root,
    origin: d.hubLog.origin,
    attestationIndex,
    pairsCommitted: set.pair_count,
  };
  let seedFirst = seed.response.first;
  let indices: number[];
  if (witnesses === undefined) indices = disclosurePairIndices(sampleInput);
  else {
    const integratedAt = fromBinary(LogLeafSchema, entry.leaf).integratedAt;
    if (integratedAt === undefined || seedFirst?.checkpoint === undefined)
      throw new MemberNodeError("malformed", "the logged attestation has no integration time");
    const counted = countSeedCosignatures(
      seedFirst.checkpoint.signedNote,
      witnesses,
      d.hubLog.verifier,
      Number(timestampMs(integratedAt)),
    );
    indices = witnessedDisclosurePairIndices({ ...sampleInput, cosignatures: counted.cosignatures });
    seedFirst = { ...seedFirst, checkpoint: { ...seedFirst.checkpoint, signedNote: counted.note } };
  }
  const committed = await d.canaries.commitment(commitmentId);
  const answers = await d.store.db
    .selectFrom("session_canary_answers")
    .selectAll()
    .where("session_id", "=", sessionId)
    .where("pair_index", "in", indices.length > 0 ? indices : [-1])
    .execute();
  const responses: RecordedResponse[] = answers.map((a) => {
    const positions = JSON.parse(a.first_positions) as { token: string; top: { token: string }[] }[];
    return {
      $typeName: "lineage.v1.RecordedResponse",
      leafIndex: BigInt(a.pair_index),
      item: a.item,
      response: a.response,
      firstPositions: positions.map((p) => ({
        $typeName: "lineage.v1.RecordedPosition",
        token: p.token,
        alternatives: p.top.map((t) => t.token),
      })),
    };
  });
  return create(VerifyDisclosureRequestSchema, {
    bundle,
    disclosure: {
      commitmentId,
      sampleSize: indices.length,
      seed: seedFirst,
      seedConsistency: seed.response.referenceConsistency?.hashes ?? [],
      labelCheckpoint: label.response.first,
      labelConsistency: label.response.referenceConsistency?.hashes ?? [],
      pairs: indices.map((i) => {
        const o = committed.disclose(i);
        return {
          leafIndex: BigInt(i),
          salt: o.salt,
          pairId: o.pair.pairId,
          promptA: o.pair.a.prompt,
          expectedA: o.pair.a.expected,
          promptB: o.pair.b.prompt,
          expectedB: o.pair.b.expected,
          path: [...o.proof],
        };
      }),
    },
    responses,
  });
}
