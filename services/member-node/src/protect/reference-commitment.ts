/**
 * Logging a protected model's reference fingerprint hash (DESIGN.md "The match protocol", step 1): the
 * member signs a ReferenceFingerprintCommitment (canary_commitment.proto; DSSE payload type
 * application/vnd.lineage.reference-fingerprint.v1+proto) and the hub logs it (Hub.LogCanaryCommitment,
 * member-signed header) before any session compares a suspect with that fingerprint. Once per (model,
 * epoch): the log index is kept in node_meta, so a re-run or re-publish does not log it again. Only the
 * salted hash leaves the node; the fingerprint and its salt stay.
 */
import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { LogCanaryCommitmentRequestSchema, ReferenceFingerprintCommitmentSchema } from "@lineage/api";
import { signEnvelope } from "@lineage/crypto";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { MemberNodeError } from "../member-node-error.js";

/** DSSE payload type of a ReferenceFingerprintCommitment (dsse.proto's list, the hub's log-leaf.ts). */
export const REFERENCE_FINGERPRINT_PAYLOAD_TYPE = "application/vnd.lineage.reference-fingerprint.v1+proto";

/** What the node keeps of a logged reference fingerprint. */
export interface LoggedReference {
  readonly logIndex: bigint;
  readonly hashHex: string;
}

function metaKey(modelId: string, epochId: string): string {
  return `reference-fingerprint/${createHash("sha256").update(`${modelId}\0${epochId}`).digest("hex")}`;
}

/** The logged reference of (model, epoch), if the node logged one. */
export async function loggedReference(
  deps: Pick<MemberNodeDeps, "store">,
  modelId: string,
  epochId: string,
): Promise<LoggedReference | undefined> {
  const row = await deps.store.db
    .selectFrom("node_meta")
    .select("value")
    .where("key", "=", metaKey(modelId, epochId))
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const v = JSON.parse(row.value) as { log_index: string; hash: string };
  return { logIndex: BigInt(v.log_index), hashHex: v.hash };
}

/**
 * Logs the hash through the hub (once; later calls return the first log index). Without a hub nothing is
 * sent and `undefined` is returned (the hash is still in the node's log line and probe run).
 * @throws MemberNodeError `unavailable` (hub unreachable: run protect again), `failed_precondition` (the hub
 *   refused it), `malformed` (the hub's answer names no entry)
 */
export async function logReferenceFingerprint(
  deps: MemberNodeDeps,
  model: { readonly modelId: string; readonly modelVersion: string },
  epochId: string,
  hash: Uint8Array,
  probes: number,
  signal?: AbortSignal,
): Promise<LoggedReference | undefined> {
  if (deps.hub === undefined) return undefined;
  const hashHex = Buffer.from(hash).toString("hex");
  const known = await loggedReference(deps, model.modelId, epochId);
  if (known !== undefined && known.hashHex === hashHex) return known;
  const payload = toBinary(
    ReferenceFingerprintCommitmentSchema,
    create(ReferenceFingerprintCommitmentSchema, {
      memberId: deps.memberId,
      modelId: model.modelId,
      modelVersion: model.modelVersion,
      epochId,
      fingerprintHash: hash,
      probes,
      committedAt: timestampFromMs(deps.clock()),
    }),
  );
  const env = signEnvelope(REFERENCE_FINGERPRINT_PAYLOAD_TYPE, payload, deps.signingKey);
  const request = await deps.signer.sign(
    LogCanaryCommitmentRequestSchema,
    create(LogCanaryCommitmentRequestSchema, {
      commitment: {
        payloadType: env.payloadType,
        payload: env.payload,
        signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
      },
    }),
  );
  let index: bigint | undefined;
  try {
    index = (
      await deps.hub.logCanaryCommitment(request, { timeoutMs: 30_000, ...(signal ? { signal } : {}) })
    ).logEntry?.index;
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code;
    const retry = code === "unavailable" || code === "timeout";
    throw new MemberNodeError(
      retry ? "unavailable" : "failed_precondition",
      `the hub did not log the reference fingerprint of ${model.modelId} (${String(code ?? "error")})${retry ? "; run protect again" : ""}`,
      { cause },
    );
  }
  if (index === undefined) throw new MemberNodeError("malformed", "the hub's answer names no log entry");
  const value = JSON.stringify({ log_index: index.toString(), hash: hashHex });
  await deps.store.db
    .insertInto("node_meta")
    .values({ key: metaKey(model.modelId, epochId), value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value, updated_at: new Date(deps.clock()) }))
    .execute();
  return { logIndex: index, hashHex };
}
