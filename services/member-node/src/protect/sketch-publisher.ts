/**
 * Publishing a member's sketch on the bus (DESIGN.md flow 2; NATS subjects in deploy/nats/nats-server.conf):
 *
 *   subject  lineage.sketch.<member>.<model token>            SketchAnnouncement
 *            lineage.sketch.<member>.<model token>.withdrawn  SketchWithdrawal
 *   msg id   sketch.<member>.<model token>.<epoch>.<sha256(Sketch payload) hex>   (withdrawal: "withdraw." + same)
 *
 * The announcement carries a member-signed header (fresh sequence and nonce) and the DSSE envelope over
 * the Sketch; the message id depends only on the sketch, so publishing the same sketch again — a retry, a
 * restart, a re-publish — is acknowledged by JetStream as a duplicate inside the stream's window, and the
 * hub's replay guard rejects a replayed header outside it.
 *
 * The model token: a model id is [A-Za-z0-9._/-], but `.` separates NATS tokens, so it is written `~2E`
 * (`~` cannot occur in a model id, so the encoding is unambiguous and reversible).
 */
import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Sketch, SketchAnnouncementSchema, SketchSchema, SketchWithdrawalSchema } from "@lineage/api";
import { type Bus, isBusError, type PublishAck, type StreamSpec } from "@lineage/bus";
import { signEnvelope } from "@lineage/crypto";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { SKETCH_PAYLOAD_TYPE } from "./sketch-proto.js";

/** Header naming the kind of message on a sketch subject. */
export const KIND_HEADER = "Lineage-Kind";

/**
 * The stream a node creates for its own sketches when no hub owns one (development, the embedded default;
 * NatsConfig.ensureStream): it captures only this member's subjects, so it never overlaps another's.
 */
export function memberSketchStream(memberId: string): StreamSpec {
  const tag = createHash("sha256").update(memberId).digest("hex").slice(0, 16);
  return {
    name: `lineage-sketches-${tag}`,
    subjects: [`lineage.sketch.${memberId}.>`],
    duplicateWindowMs: 24 * 60 * 60 * 1000,
    maxMsgSize: 4 * 1024 * 1024,
  };
}

/** The subject token of a model id (see the module header). */
export function modelToken(modelId: string): string {
  return modelId.replaceAll(".", "~2E");
}

/** Subject of a model's sketch announcements. */
export function sketchSubject(memberId: string, modelId: string): string {
  return `lineage.sketch.${memberId}.${modelToken(modelId)}`;
}

/** What was published. */
export interface Published {
  readonly subject: string;
  readonly msgId: string;
  readonly sketchSha256: Uint8Array;
  readonly headerSequence: bigint;
  readonly ack: PublishAck;
}

/** The Sketch payload bytes and their SHA-256. */
export function sketchPayload(sketch: Sketch): { payload: Uint8Array; sha256: Uint8Array } {
  const payload = toBinary(SketchSchema, sketch);
  return { payload, sha256: new Uint8Array(createHash("sha256").update(payload).digest()) };
}

function msgIdOf(memberId: string, modelId: string, epochId: string, sha256: Uint8Array): string {
  return `sketch.${memberId}.${modelToken(modelId)}.${epochId}.${Buffer.from(sha256).toString("hex")}`;
}

/** Signs and publishes a sketch announcement. */
export async function publishSketch(
  deps: Pick<MemberNodeDeps, "memberId" | "signingKey" | "signer" | "bus">,
  modelId: string,
  sketch: Sketch,
): Promise<Published> {
  const { payload, sha256 } = sketchPayload(sketch);
  const envelope = signEnvelope(SKETCH_PAYLOAD_TYPE, payload, deps.signingKey);
  const announcement = await deps.signer.sign(
    SketchAnnouncementSchema,
    create(SketchAnnouncementSchema, {
      sketch: {
        payloadType: envelope.payloadType,
        payload: envelope.payload,
        signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
      },
    }),
  );
  const subject = sketchSubject(deps.memberId, modelId);
  const msgId = msgIdOf(deps.memberId, modelId, sketch.epochId, sha256);
  const ack = await deps.bus.publish(subject, toBinary(SketchAnnouncementSchema, announcement), {
    msgId,
    headers: { [KIND_HEADER]: "sketch" },
  });
  return { subject, msgId, sketchSha256: sha256, headerSequence: announcement.header.sequence, ack };
}

/** Signs and publishes the withdrawal of (model, epoch)'s sketch. */
export async function publishWithdrawal(
  deps: Pick<MemberNodeDeps, "memberId" | "signer" | "bus">,
  model: { readonly modelId: string; readonly modelVersion: string },
  epochId: string,
  sketchSha256: Uint8Array,
  reason: string,
): Promise<Published> {
  const message = await deps.signer.sign(
    SketchWithdrawalSchema,
    create(SketchWithdrawalSchema, {
      model: { memberId: deps.memberId, modelId: model.modelId, modelVersion: model.modelVersion },
      epochId,
      sketchSha256,
      reason,
    }),
  );
  const subject = `${sketchSubject(deps.memberId, model.modelId)}.withdrawn`;
  const msgId = `withdraw.${msgIdOf(deps.memberId, model.modelId, epochId, sketchSha256)}`;
  const ack = await deps.bus.publish(subject, toBinary(SketchWithdrawalSchema, message), {
    msgId,
    headers: { [KIND_HEADER]: "sketch-withdrawal" },
  });
  return { subject, msgId, sketchSha256, headerSequence: message.header.sequence, ack };
}

/**
 * Creates the member's sketch stream when it is missing (development and the embedded default only). When
 * another stream already captures the member's subjects — a hub's `lineage.sketch.>` stream on a bus they
 * share — that stream is the one to publish into, and `false` says so; any other refusal is thrown.
 */
export async function ensureSketchStream(bus: Bus, memberId: string): Promise<boolean> {
  try {
    await bus.ensureStream(memberSketchStream(memberId));
    return true;
  } catch (err) {
    if (isBusError(err) && err.code === "conflict" && /overlap/i.test(err.message)) return false;
    throw err;
  }
}
