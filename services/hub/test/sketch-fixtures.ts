/**
 * Real signed inputs for sketch-ingestion tests and the hub benchmark: a hub with a log, enrolled members
 * (real Ed25519 keys), a current epoch, synthetic sketches, and SketchAnnouncements signed exactly as a
 * member node signs them (SignedHeader over the announcement without its header; DSSE over the Sketch).
 */
import { randomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  DsseEnvelopeSchema,
  MembershipAction,
  ProbeKind,
  ProbeSchema,
  type SignedHeader,
  type SketchAnnouncement,
  SketchAnnouncementSchema,
  SketchSchema,
  SketchWithdrawalSchema,
  SubmitSketchRequestSchema,
} from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope, signMessage } from "@lineage/crypto";
import { COARSE_BANDS, PROBE_BANDS, PROBE_DIGEST_BYTES, type Sketch } from "@lineage/fingerprint";
import type { HubDatabase, Store } from "@lineage/store";
import { EpochStore } from "../src/epochs/epoch-store.js";
import { logMemberDirectory, type MemberDirectory } from "../src/ingest/member-directory.js";
import { signHeader } from "../src/ingest/signed-header.js";
import { type ModelRef, SKETCH_PAYLOAD_TYPE, sketchToProto } from "../src/ingest/sketch-proto.js";
import { TransparencyLog } from "../src/log/transparency-log.js";
import { DAY, enrolRecord, type LogBackend } from "./log-fixtures.js";

export const ORIGIN = "lineage.test/sketch-log";
export const EPOCH_ID = "2026-12";
/** One creation time for every fixture sketch, so the same sketch always has the same payload (and id). */
const CREATED_AT_MS = Date.now();

/** A member with its key and a header sequence counter. */
export interface TestMember {
  readonly id: string;
  readonly key: Ed25519PrivateKey;
  sequence: bigint;
}

/** A hub's state for ingestion tests: log, members, epochs. */
export interface SketchHub {
  readonly store: Store<HubDatabase>;
  readonly hubKey: Ed25519PrivateKey;
  readonly log: TransparencyLog;
  readonly epochs: EpochStore;
  readonly members: MemberDirectory;
  readonly probeCount: number;
}

/** A battery of `n` open-ended probes. */
export function battery(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    kind: ProbeKind.OPEN_ENDED,
    prompt: `Describe thing number ${i}.`,
    maxTokens: 64,
  })).map((p) => create(ProbeSchema, p));
}

/** Opens a log on `store` (migrated), enrols `memberIds`, creates epoch EPOCH_ID with `probeCount` probes. */
export async function sketchHub(
  store: Store<HubDatabase>,
  memberIds: readonly string[],
  probeCount = 16,
): Promise<{ hub: SketchHub; members: Map<string, TestMember> }> {
  const hubKey = Ed25519PrivateKey.generate();
  const log = await TransparencyLog.open({ store, origin: ORIGIN, hubKey });
  const now = Date.now();
  const members = new Map<string, TestMember>();
  for (const id of memberIds) {
    const key = Ed25519PrivateKey.generate();
    await log.appendMembership(enrolRecord(id, key, now - 10 * DAY));
    members.set(id, { id, key, sequence: 0n });
  }
  const epochs = new EpochStore(store, hubKey);
  await epochs.create({ epochId: EPOCH_ID, probes: battery(probeCount), notAfterMs: now + 30 * DAY });
  return { hub: { store, hubKey, log, epochs, members: logMemberDirectory(log), probeCount }, members };
}

/**
 * Opens `backend`'s store and a {@link sketchHub} on it with the two members most tests trade sketches
 * between, "acme" and "globex". The caller closes `hub.log`, then `store`.
 */
export async function acmeGlobexHub(
  backend: LogBackend,
  probeCount?: number,
): Promise<{ store: Store<HubDatabase>; hub: SketchHub; acme: TestMember; globex: TestMember }> {
  const store = await backend.open();
  const { hub, members } = await sketchHub(store, ["acme", "globex"], probeCount);
  const acme = members.get("acme");
  const globex = members.get("globex");
  if (acme === undefined || globex === undefined) throw new Error("sketchHub did not enrol acme and globex");
  return { store, hub, acme, globex };
}

/** Suspends a member (a hub-signed membership decision, logged). */
export async function suspend(log: TransparencyLog, memberId: string): Promise<void> {
  await log.appendMembership({
    action: MembershipAction.SUSPEND,
    memberId,
    effectiveAt: timestampFromMs(Date.now()),
    reason: "test",
  });
}

/** A deterministic pseudo-random generator (xorshift32) for synthetic sketches. */
export function rng(seed: number): () => number {
  // Mix the seed (murmur3's fmix32) first: xorshift streams of nearby small seeds start out correlated.
  let x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * A synthetic sketch of `probes` probes. Its coarse signature copies `parent`'s band digest with
 * probability `inherit` (a derived model), else takes one of `commonPool` shared digests per band with
 * probability `common` (what unrelated models share on real text: frequent shingles), else a fresh one.
 */
export function syntheticSketch(
  epochId: string,
  probes: number,
  seed: number,
  opts: {
    readonly parent?: Sketch;
    readonly inherit?: number;
    readonly common?: number;
    readonly commonPool?: number;
  } = {},
): Sketch {
  const r = rng(seed);
  const unit = () => r() / 4294967296;
  const coarse = new Uint8Array(COARSE_BANDS * 8);
  const dv = new DataView(coarse.buffer);
  const common = opts.common ?? 0;
  const pool = opts.commonPool ?? 2;
  for (let b = 0; b < COARSE_BANDS; b++) {
    if (opts.parent !== undefined && unit() < (opts.inherit ?? 0)) {
      coarse.set(opts.parent.coarse.subarray(b * 8, b * 8 + 8), b * 8);
    } else if (unit() < common) {
      const k = r() % pool;
      dv.setUint32(b * 8, 0xc0000000 + b * 64 + k);
      dv.setUint32(b * 8 + 4, k);
    } else {
      dv.setUint32(b * 8, r());
      dv.setUint32(b * 8 + 4, r());
    }
  }
  const ids = Array.from({ length: probes }, (_, i) => String(i)).sort();
  const probeSketches = ids.map((probeId) => {
    const bands = new Uint8Array(PROBE_BANDS * PROBE_DIGEST_BYTES);
    const parentProbe = opts.parent?.probes.find((p) => p.probeId === probeId);
    for (let i = 0; i < bands.length; i += 4) {
      if (parentProbe !== undefined && unit() < (opts.inherit ?? 0))
        bands.set(parentProbe.bands.subarray(i, i + 4), i);
      else new DataView(bands.buffer).setUint32(i, r());
    }
    return { probeId, empty: false, bands };
  });
  return { version: 1, epochId, coarse, simhash: null, probes: probeSketches, wrongAnswers: [] };
}

/** Options of {@link announcement}: tampering for negative tests. */
export interface AnnounceOptions {
  readonly issuedAtMs?: number;
  readonly sequence?: bigint;
  readonly nonce?: Uint8Array;
  /** Sign the header as this member id (a wrong-member claim). */
  readonly headerMember?: string;
  /** Sign the DSSE envelope with this key instead. */
  readonly envelopeKey?: Ed25519PrivateKey;
  /** Sign the header with this key instead. */
  readonly headerKey?: Ed25519PrivateKey;
}

/** The DSSE envelope of a member's sketch. */
export function sketchEnvelope(key: Ed25519PrivateKey, sketch: Sketch, model: ModelRef) {
  const proto = sketchToProto(sketch, model, CREATED_AT_MS);
  const env = signEnvelope(SKETCH_PAYLOAD_TYPE, toBinary(SketchSchema, proto), key);
  return create(DsseEnvelopeSchema, {
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  });
}

function nextSeq(m: TestMember, o: AnnounceOptions): bigint {
  if (o.sequence !== undefined) return o.sequence;
  m.sequence += 1n;
  return m.sequence;
}

/** A member-signed SketchAnnouncement (NATS) of `sketch` for model `modelId`. */
export function announcement(
  m: TestMember,
  sketch: Sketch,
  modelId: string,
  o: AnnounceOptions = {},
): Uint8Array {
  const model = { memberId: m.id, modelId, modelVersion: "1" };
  const env = sketchEnvelope(o.envelopeKey ?? m.key, sketch, model);
  const body = create(SketchAnnouncementSchema, {
    sketch: { ...env, signatures: env.signatures.map((s) => ({ ...s })) },
  });
  const header = signHeader(
    SketchAnnouncementSchema.typeName,
    toBinary(SketchAnnouncementSchema, body),
    o.headerKey ?? m.key,
    o.headerMember ?? m.id,
    nextSeq(m, o),
    o.issuedAtMs ?? Date.now(),
  );
  if (o.nonce !== undefined) {
    // Re-sign with a chosen nonce (replay tests).
    return toBinary(SketchAnnouncementSchema, { ...body, header: resign(header, body, o, m) });
  }
  return toBinary(SketchAnnouncementSchema, { ...body, header });
}

function resign(
  header: SignedHeader,
  body: SketchAnnouncement,
  o: AnnounceOptions,
  m: TestMember,
): SignedHeader {
  const h = {
    memberId: header.memberId,
    sequence: header.sequence,
    nonce: o.nonce as Uint8Array,
    issuedAtMs: Number(header.issuedAtMs),
  };
  const s = signMessage(
    SketchAnnouncementSchema.typeName,
    h,
    toBinary(SketchAnnouncementSchema, body),
    o.headerKey ?? m.key,
  );
  return { ...header, nonce: h.nonce, signature: s.signature };
}

/** A member-signed SubmitSketchRequest. */
export function submitRequest(m: TestMember, sketch: Sketch, modelId: string, o: AnnounceOptions = {}) {
  const model = { memberId: m.id, modelId, modelVersion: "1" };
  const env = sketchEnvelope(o.envelopeKey ?? m.key, sketch, model);
  const body = create(SubmitSketchRequestSchema, { sketch: env });
  const header = signHeader(
    SubmitSketchRequestSchema.typeName,
    toBinary(SubmitSketchRequestSchema, body),
    o.headerKey ?? m.key,
    o.headerMember ?? m.id,
    nextSeq(m, o),
    o.issuedAtMs ?? Date.now(),
  );
  return create(SubmitSketchRequestSchema, { sketch: env, header });
}

/** A fresh random nonce. */
export function nonce(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

/** A member-signed SketchWithdrawal of the sketch with id `sketchId` (hex SHA-256 of its payload). */
export function withdrawalMessage(
  m: TestMember,
  modelId: string,
  sketchId: string,
  o: AnnounceOptions = {},
): Uint8Array {
  const body = create(SketchWithdrawalSchema, {
    model: { memberId: o.headerMember ?? m.id, modelId, modelVersion: "1" },
    epochId: EPOCH_ID,
    sketchSha256: Buffer.from(sketchId, "hex"),
    reason: "retired model",
  });
  const header = signHeader(
    SketchWithdrawalSchema.typeName,
    toBinary(SketchWithdrawalSchema, body),
    o.headerKey ?? m.key,
    m.id,
    nextSeq(m, o),
    o.issuedAtMs ?? Date.now(),
  );
  return toBinary(SketchWithdrawalSchema, { ...body, header });
}
