/**
 * Epoch batteries (proto/lineage/v1/epoch.proto): checking a battery that arrives (RotateEpoch, a CLI
 * file), its digest, and the hub's signature over the Epoch record members receive. Pure: no I/O.
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  type Epoch,
  EpochBatterySchema,
  EpochSchema,
  type Probe,
  ProbeKind,
  ProbeSchema,
} from "@lineage/api";
import { type Ed25519PrivateKey, type Ed25519PublicKey, pae, sha256 } from "@lineage/crypto";
import { HubError } from "../ingest/hub-error.js";

/** DSSE-style payload type of the hub's signature over an Epoch record (PAE, never a re-encoding). */
export const EPOCH_PAYLOAD_TYPE = "application/vnd.lineage.epoch.v1+proto";
/** Epoch ids: also carried inside sketches (libs/fingerprint checkEpochId), hence this alphabet. */
export const EPOCH_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
/** Bounds of epoch.proto. */
export const BATTERY_LIMITS = {
  maxProbes: 4096,
  maxPromptChars: 8192,
  maxReferenceChars: 4096,
  maxTokens: 4096,
  maxTopLogprobs: 20,
} as const;

/** Checks an epoch id (untrusted input). */
export function checkEpochId(epochId: unknown, what = "epoch_id"): string {
  if (typeof epochId !== "string" || !EPOCH_ID_RE.test(epochId)) {
    throw new HubError("invalid_argument", `${what} must be 1..64 characters of [A-Za-z0-9._:-]`);
  }
  return epochId;
}

/**
 * Checks a battery's probes (untrusted: a RotateEpoch request or a battery file) and returns them in
 * index order. Indexes must be exactly 0..n-1; every field within epoch.proto's bounds.
 */
export function checkProbes(probes: readonly Probe[]): Probe[] {
  if (!Array.isArray(probes) || probes.length === 0 || probes.length > BATTERY_LIMITS.maxProbes) {
    throw new HubError("invalid_argument", `a battery holds 1..${BATTERY_LIMITS.maxProbes} probes`);
  }
  const sorted = [...probes].sort((a, b) => a.index - b.index);
  sorted.forEach((p, i) => {
    const at = `probe ${p.index}`;
    if (p.index !== i)
      throw new HubError(
        "invalid_argument",
        `probe indexes must be 0..${probes.length - 1}, each once (${at})`,
      );
    if (
      p.kind !== ProbeKind.EDGE_CASE &&
      p.kind !== ProbeKind.OPEN_ENDED &&
      p.kind !== ProbeKind.SHORT_COMPLETION
    ) {
      throw new HubError("invalid_argument", `${at}: kind must be EDGE_CASE, OPEN_ENDED or SHORT_COMPLETION`);
    }
    if (p.prompt.length === 0 || p.prompt.length > BATTERY_LIMITS.maxPromptChars) {
      throw new HubError(
        "invalid_argument",
        `${at}: prompt must be 1..${BATTERY_LIMITS.maxPromptChars} characters`,
      );
    }
    if (p.referenceAnswer.length > BATTERY_LIMITS.maxReferenceChars) {
      throw new HubError(
        "invalid_argument",
        `${at}: reference_answer exceeds ${BATTERY_LIMITS.maxReferenceChars} characters`,
      );
    }
    if (p.referenceAnswer.length > 0 && p.kind !== ProbeKind.EDGE_CASE) {
      throw new HubError("invalid_argument", `${at}: only an EDGE_CASE probe has a reference_answer`);
    }
    if (p.kind === ProbeKind.EDGE_CASE && p.referenceAnswer.length === 0) {
      throw new HubError("invalid_argument", `${at}: an EDGE_CASE probe needs a reference_answer`);
    }
    if (p.maxTokens < 1 || p.maxTokens > BATTERY_LIMITS.maxTokens) {
      throw new HubError("invalid_argument", `${at}: max_tokens must be 1..${BATTERY_LIMITS.maxTokens}`);
    }
    if (p.topLogprobs > BATTERY_LIMITS.maxTopLogprobs) {
      throw new HubError(
        "invalid_argument",
        `${at}: top_logprobs must be 0..${BATTERY_LIMITS.maxTopLogprobs}`,
      );
    }
    if (p.topLogprobs > 0 && p.kind !== ProbeKind.SHORT_COMPLETION) {
      throw new HubError("invalid_argument", `${at}: top_logprobs is for SHORT_COMPLETION probes only`);
    }
  });
  return sorted.map((p) => create(ProbeSchema, { ...p }));
}

/** SHA-256 of the battery's canonical encoding: an EpochBattery holding only the probes, in index order. */
export function batteryDigest(probes: readonly Probe[]): Uint8Array {
  return sha256(toBinary(EpochBatterySchema, create(EpochBatterySchema, { probes: [...probes] })));
}

/** The bytes the hub signs for an Epoch record: PAE(EPOCH_PAYLOAD_TYPE, encoding of the Epoch). */
export function epochSigningBytes(epoch: MessageInitShape<typeof EpochSchema> | Epoch): Uint8Array {
  return pae(EPOCH_PAYLOAD_TYPE, toBinary(EpochSchema, create(EpochSchema, epoch)));
}

/** The hub's signature over an Epoch record. */
export function signEpoch(epoch: Epoch, hubKey: Ed25519PrivateKey): Uint8Array {
  return hubKey.sign(epochSigningBytes(epoch));
}

/** Whether `signature` is the hub's over `epoch`. */
export function verifyEpochSignature(epoch: Epoch, signature: Uint8Array, hubKey: Ed25519PublicKey): boolean {
  return hubKey.verify(epochSigningBytes(epoch), signature);
}
