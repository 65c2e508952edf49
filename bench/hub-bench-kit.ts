/**
 * What the hub benchmarks (bench/hub.ts, bench/startup.ts) share: the figures they read about processes
 * (CPU time from /proc, the load average, medians) and the signed inputs a populated hub holds — enrolled
 * members, an epoch battery, and sketches signed exactly as a member node signs them (DSSE over the Sketch,
 * a SignedHeader over the message).
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { DsseEnvelopeSchema, ProbeKind, ProbeSchema, type SignedHeader, SketchSchema } from "@lineage/api";
import { Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import type { Sketch } from "@lineage/fingerprint";
import {
  type EpochStore,
  enrolmentRecord,
  keyFingerprint,
  type ModelRef,
  SKETCH_PAYLOAD_TYPE,
  signHeader,
  signMembership,
  sketchToProto,
} from "@lineage/hub";

const DAY_MS = 86_400_000;

/** CPU ms in fields `a` and `b` of proc(5)'s stat file at `path` (counted from 0 at field 3), or undefined off Linux. */
function statCpuMs(path: string, a: number, b: number): number | undefined {
  try {
    const stat = readFileSync(path, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Clock ticks, USER_HZ = 100 on Linux.
    return (Number(fields[a]) + Number(fields[b])) * 10;
  } catch {
    return undefined;
  }
}

/** CPU ms (utime + stime, fields 14 and 15) process `pid` used so far; undefined off Linux or once it is gone. */
export function processCpuMs(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : statCpuMs(`/proc/${pid}/stat`, 11, 12);
}

/** CPU ms used by this process's waited-for children so far (cutime + cstime, fields 16 and 17), or NaN off Linux. */
export function childrenCpuMs(): number {
  return statCpuMs("/proc/self/stat", 13, 14) ?? Number.NaN;
}

/** The machine's load average over the last minute (0 where the platform has none). */
export function loadAverage1m(): number {
  return loadavg()[0] ?? 0;
}

/** The `q` quantile (0..1, nearest rank below) of `xs`, or NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

/** A xorshift32 stream from `state` (the caller mixes its seed into it; 0 is taken as 1). */
export function xorshift32(state: number): () => number {
  let x = state >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A member of a benchmark hub: its id and key, and the last header sequence it signed. */
export interface BenchMember {
  readonly id: string;
  readonly key: Ed25519PrivateKey;
  seq: bigint;
}

/** A member `id` with a fresh key that has signed nothing yet. */
export function benchMember(id: string): BenchMember {
  return { id, key: Ed25519PrivateKey.generate(), seq: 0n };
}

/** `m`'s enrolment (valid from a day ago, fingerprint confirmed), signed by `m` for the hub's log. */
export function enrolment(m: BenchMember) {
  return signMembership(
    enrolmentRecord(m.id, m.id, m.key.publicKey, Date.now() - DAY_MS, {
      confirmedFingerprint: keyFingerprint(m.key.publicKey.raw),
    }),
    [m.key],
  );
}

/** Creates epoch `epochId` with a battery of `probes` open-ended probes, valid for a week. */
export function createBenchEpoch(epochs: EpochStore, epochId: string, probes: number) {
  return epochs.create({
    epochId,
    probes: Array.from({ length: probes }, (_, index) =>
      create(ProbeSchema, { index, kind: ProbeKind.OPEN_ENDED, prompt: `probe ${index}`, maxTokens: 64 }),
    ),
    notAfterMs: Date.now() + 7 * DAY_MS,
  });
}

/** `sketch` of `model` as a member sends it: the Sketch payload and its DSSE envelope signed with `key`. */
export function signedSketch(key: Ed25519PrivateKey, sketch: Sketch, model: ModelRef, createdAtMs: number) {
  const payload = toBinary(SketchSchema, sketchToProto(sketch, model, createdAtMs));
  const env = signEnvelope(SKETCH_PAYLOAD_TYPE, payload, key);
  const envelope = create(DsseEnvelopeSchema, {
    payloadType: env.payloadType,
    payload: env.payload,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  });
  return { payload, envelope };
}

/** `m`'s SignedHeader over `body` (a `schema` message without its header), at `m`'s next sequence. */
export function nextHeader<Desc extends DescMessage>(
  m: BenchMember,
  schema: Desc,
  body: MessageShape<Desc>,
): SignedHeader {
  m.seq += 1n;
  return signHeader(schema.typeName, toBinary(schema, body), m.key, m.id, m.seq, Date.now());
}
