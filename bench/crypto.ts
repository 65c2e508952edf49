/**
 * Micro-benchmark of @lineage/crypto hot paths: Ed25519 sign/verify on node:crypto (OpenSSL) vs
 * @noble/curves, DSSE envelope verification (parsed, and parse+verify from JSON), Merkle proof checks.
 *
 *   node --conditions=lineage-source --import tsx bench/crypto.ts [--json FILE] [--seconds S]
 *
 * Each figure is operations per second over a fixed wall-clock budget after a warm-up.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import {
  addSignature,
  Ed25519PrivateKey,
  hashLeaf,
  KeyRing,
  MerkleTree,
  nobleSign,
  nobleVerify,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
  verifyConsistency,
  verifyEnvelope,
  verifyEnvelopeAsync,
  verifyInclusion,
} from "@lineage/crypto";

const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (jsonAt >= 0 && (jsonFile === undefined || jsonFile.startsWith("--"))) {
  console.error("usage: bench/crypto.ts [--json FILE] [--seconds S]");
  process.exit(2);
}
const secAt = args.indexOf("--seconds");
const seconds = secAt >= 0 ? Number(args[secAt + 1]) : 1;
if (!(seconds > 0 && seconds <= 60)) {
  console.error("--seconds must be in (0, 60]");
  process.exit(2);
}

interface Figure {
  name: string;
  /** Operations per wall-clock second (depends on what else the box runs). */
  opsPerSec: number;
  /** Operations per CPU-second used by this process (robust to other load on a shared box). */
  opsPerCpuSec: number;
  iterations: number;
}

function report(name: string, iterations: number, wallS: number, cpu: NodeJS.CpuUsage): Figure {
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const opsPerSec = Math.round(iterations / wallS);
  const opsPerCpuSec = Math.round(iterations / cpuS);
  const fmt = (x: number) => x.toLocaleString("en-US").padStart(10);
  console.log(`${name.padEnd(50)} ${fmt(opsPerSec)} ops/s ${fmt(opsPerCpuSec)} ops/cpu-s`);
  return { name, opsPerSec, opsPerCpuSec, iterations };
}

function measure(name: string, op: (i: number) => void): Figure {
  for (let i = 0; i < 200; i++) op(i); // warm-up
  const budgetNs = BigInt(Math.round(seconds * 1e9));
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let iterations = 0;
  let elapsed = 0n;
  while (elapsed < budgetNs) {
    for (let j = 0; j < 50; j++) op(iterations++);
    elapsed = process.hrtime.bigint() - start;
  }
  return report(name, iterations, Number(elapsed) / 1e9, process.cpuUsage(cpu0));
}

const member = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(1));
const hub = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(2));
const ring = new KeyRing([member.publicKey, hub.publicKey]);
const seed = member.seed();
const raw = member.publicKey.raw;
const msg = new Uint8Array(256).fill(0x61);
const sig = member.sign(msg);

// A realistic attestation payload (~1.5 KB of JSON).
const payload = new TextEncoder().encode(
  JSON.stringify({
    suspect: { repo: "example/model", revision: "a".repeat(40), weightDigest: "b".repeat(64) },
    memberModel: "member-a/model-7b",
    evidence: Array.from({ length: 12 }, (_, i) => ({ test: `t${i}`, n: 400, effect: 0.31, pValue: 1e-9 })),
    commitment: "c".repeat(64),
    session: "d".repeat(32),
    nonce: "e".repeat(32),
  }),
);
const env1 = signEnvelope("application/vnd.lineage.attestation+json", payload, member);
const env2 = addSignature(env1, hub);
const json2 = serializeEnvelope(env2);

const tree = MerkleTree.fromLeaves(
  Array.from({ length: 100_000 }, (_, i) => new TextEncoder().encode(`entry ${i}`)),
);
const root = tree.root();
const proofs = Array.from({ length: 64 }, (_, i) => {
  const index = (i * 1543) % tree.size;
  return { index, leaf: tree.leafHash(index), proof: tree.inclusionProof(index) };
});
const root1 = tree.root(60_001);
const cproof = tree.consistencyProof(60_001);

console.log(
  `@lineage/crypto micro-benchmark (node ${process.version}, ${seconds}s per figure, load average ${loadavg()[0]?.toFixed(2)})`,
);
const results: Figure[] = [
  measure("ed25519 sign (node:crypto)", () => member.sign(msg)),
  measure("ed25519 sign (noble)", () => nobleSign(seed, msg)),
  measure("ed25519 verify (node:crypto, cached KeyObject)", () => {
    if (!member.publicKey.verify(msg, sig)) throw new Error("verify failed");
  }),
  measure("ed25519 verify (noble)", () => {
    if (!nobleVerify(raw, msg, sig)) throw new Error("verify failed");
  }),
  measure("dsse verify, 1 signature (parsed)", () => {
    verifyEnvelope(env1, { keys: ring });
  }),
  measure("dsse verify, 2 signatures, threshold 2 (parsed)", () => {
    verifyEnvelope(env2, { keys: ring, threshold: 2 });
  }),
  measure("dsse parse JSON + verify, 2 signatures", () => {
    verifyEnvelope(parseEnvelope(json2), { keys: ring, threshold: 2 });
  }),
  measure("merkle inclusion verify (n=100k)", (i) => {
    const p = proofs[i % proofs.length] as (typeof proofs)[number];
    verifyInclusion(p.leaf, p.index, tree.size, p.proof, root);
  }),
  measure("merkle consistency verify (60,001 -> 100k)", () => {
    verifyConsistency(60_001, tree.size, cproof, root1, root);
  }),
  measure("merkle leaf hash (64 B)", () => hashLeaf(msg.subarray(0, 64))),
];

/** Throughput of the thread-pool path with `inFlight` envelopes outstanding. */
async function measureAsync(name: string, inFlight: number, op: () => Promise<unknown>): Promise<Figure> {
  for (let i = 0; i < 200; i++) await op();
  const budgetMs = seconds * 1000;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let iterations = 0;
  const lane = async () => {
    while (performance.now() - start < budgetMs) {
      await op();
      iterations++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return report(name, iterations, (performance.now() - start) / 1000, process.cpuUsage(cpu0));
}

results.push(
  await measureAsync("dsse verify async, 1 signature (32 in flight)", 32, () =>
    verifyEnvelopeAsync(env1, { keys: ring }),
  ),
  await measureAsync("dsse parse + verify async, 2 sigs (32 in flight)", 32, () =>
    verifyEnvelopeAsync(parseEnvelope(json2), { keys: ring, threshold: 2 }),
  ),
);

const target = 5000;
const best = (prefix: string) => results.find((r) => r.name.startsWith(prefix))?.opsPerSec ?? 0;
const envelopeRate = Math.max(best("dsse verify, 1 signature"), best("dsse verify async, 1 signature"));
const perCpu = results.find((r) => r.name.startsWith("dsse verify, 1 signature"))?.opsPerCpuSec ?? 0;
console.log(
  `DSSE envelope verifications (1 signature): ${envelopeRate}/s wall (best of sync/async), ${perCpu}/cpu-s; target >= ${target}: ${envelopeRate >= target ? "met" : "NOT met"} on wall clock`,
);
if (jsonFile !== undefined) {
  writeFileSync(
    jsonFile,
    `${JSON.stringify({ bench: "crypto", node: process.version, loadAverage: loadavg()[0], secondsPerFigure: seconds, results, envelopeTarget: target }, null, 2)}\n`,
  );
  console.log(`wrote ${jsonFile}`);
}
