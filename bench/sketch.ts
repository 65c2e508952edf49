/**
 * Sketch-building micro-benchmark (issue 9 bench target; libs/fingerprint sketch-build.ts):
 *
 *   npm run bench:sketch [-- --json FILE] [--probes N] [--ms MS] [--version 1|2]
 *
 * Builds the sketch (SKETCH_VERSION, 2; --version 1 for the HMAC-keyed version 1) of a N-probe (default 1,000) fingerprint of real text (testbed corpus
 * sentences, ~3 per response, every fifth probe an edge case with a reference, as bench/node.ts) under
 * one epoch context, and reports wall and CPU figures (process.cpuUsage: the machine is shared, so CPU
 * time per sketch is the figure other load barely moves):
 *   texts_per_s / texts_per_cpu_s     tokenize (probe/tokenize.ts) of one response
 *   sketches_per_s / sketches_per_cpu_s and cpu_ms_per_sketch   whole buildSketch
 *   digests_per_cpu_s                 the version's published digests: truncated HMAC-SHA256 (v1), or
 *                                     AES-128 blocks enciphered 33,280 at a time as a sketch does (v2)
 *   realdata: tokenize checked equal to tokenizeReference (the definition) on every output of the
 *   replay files in /work/shared/realdata (read in place; skipped when absent, --no-realdata), and the
 *   CPU ms of one real fingerprint's sketch (one file, all its probes).
 * Prints the figures and writes them as JSON with --json FILE.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  buildSketch,
  createSketchContext,
  type SketchProbeInput,
  tokenize,
  tokenizeReference,
} from "@lineage/fingerprint";
import { loadCorpus } from "@lineage/testbed";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`bench/sketch: ${name} needs a value`);
    process.exit(2);
  }
  return v;
}
function intFlag(name: string, dflt: number, min: number, max: number): number {
  const raw = flag(name);
  const v = raw === undefined ? dflt : Number(raw);
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    console.error(`bench/sketch: ${name} must be an integer in ${min}..${max}`);
    process.exit(2);
  }
  return v;
}
const jsonFile = flag("--json");
const probesN = intFlag("--probes", 1000, 1, 4096);
const minMs = intFlag("--ms", 3000, 100, 600_000);
const versionArg = flag("--version") ?? "2";
if (versionArg !== "1" && versionArg !== "2") {
  console.error("bench/sketch: --version must be 1 or 2");
  process.exit(2);
}
const version = versionArg === "1" ? 1 : 2;
const replayDir = resolve(import.meta.dirname, "../../shared/realdata/replay");

const corpus = loadCorpus();
const inputs: SketchProbeInput[] = [];
for (let i = 0; i < probesN; i++) {
  const text = corpus.public.slice(6000 + 3 * i, 6003 + 3 * i).join(" ");
  const kind = i % 5 === 1 ? "edge" : "open";
  inputs.push(
    kind === "edge"
      ? { probeId: `p${i}`, kind, text, reference: "a reference answer" }
      : { probeId: `p${i}`, kind, text },
  );
}
const words = inputs.reduce((n, p) => n + p.text.split(" ").length, 0);
const ctx = createSketchContext(new Uint8Array(randomBytes(32)), "bench-sketch-1", version);

function cpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

/** Runs `body` (which does `units` units of work) for at least `minMs`; returns per wall s, per CPU s. */
function timeLoop(units: number, body: () => void): { wall: number; cpu: number; cpuSeconds: number } {
  body(); // warm-up
  body();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    body();
    n++;
  }
  const cpu = cpuSeconds(cpu0);
  return {
    wall: (n * units) / ((performance.now() - t0) / 1000),
    cpu: (n * units) / cpu,
    cpuSeconds: cpu / n,
  };
}

let sink = 0;
const texts = timeLoop(inputs.length, () => {
  for (const p of inputs) sink += tokenize(p.text).length;
});
const digestMsg = new Uint8Array(15);
const blockBuf = new Uint8Array(33_280 * 16); // a 1,000-probe sketch's 32,768 band + 512 coarse blocks
const digests =
  version === 1
    ? timeLoop(10_000, () => {
        for (let i = 0; i < 10_000; i++) {
          digestMsg[3] = i & 0xff;
          sink += ctx.digest(digestMsg, 4)[0] ?? 0;
        }
      })
    : timeLoop(33_280, () => {
        blockBuf[5] = (blockBuf[5] ?? 0) + 1;
        sink += ctx.blocks?.encrypt(blockBuf)[0] ?? 0;
      });
const sketches = timeLoop(1, () => {
  sink += buildSketch(inputs, ctx).probes.length;
});
if (sink === 0) console.error("bench/sketch: nothing was computed");

// Real outputs: the fast tokenizer must give the definition's tokens on every one of them.
let realdata:
  | {
      texts: number;
      non_ascii_texts: number;
      tokenize_equal: true;
      probes: number;
      cpu_ms_per_sketch: number;
    }
  | { skipped: string };
if (args.includes("--no-realdata")) realdata = { skipped: "--no-realdata" };
else if (!existsSync(replayDir)) realdata = { skipped: `${replayDir} not found` };
else {
  let texts = 0;
  let nonAscii = 0;
  let first: SketchProbeInput[] = [];
  for (const f of readdirSync(replayDir)
    .filter((x) => x.endsWith(".jsonl.gz"))
    .sort()) {
    const inp: SketchProbeInput[] = [];
    for (const line of gunzipSync(readFileSync(join(replayDir, f)))
      .toString("utf8")
      .split("\n")) {
      if (line.trim() === "") continue;
      const o = JSON.parse(line) as { id?: unknown; output?: unknown };
      if (typeof o.id !== "string" || typeof o.output !== "string") continue;
      const got = tokenize(o.output);
      const want = tokenizeReference(o.output);
      if (got.length !== want.length || got.some((t, i) => t !== want[i])) {
        console.error(`bench/sketch: tokenize differs from its definition on ${f} ${o.id}`);
        process.exit(1);
      }
      texts++;
      if (/[\u0080-\uffff]/.test(o.output)) nonAscii++;
      inp.push({ probeId: o.id, kind: "open", text: o.output });
    }
    if (first.length === 0) first = inp;
  }
  const real = timeLoop(1, () => {
    sink += buildSketch(first, ctx).probes.length;
  });
  realdata = {
    texts,
    non_ascii_texts: nonAscii,
    tokenize_equal: true,
    probes: first.length,
    cpu_ms_per_sketch: Math.round(real.cpuSeconds * 10_000) / 10,
  };
}

const round = (x: number) => Math.round(x * 10) / 10;
const result = {
  sketch_version: version,
  probes: probesN,
  words,
  texts_per_s: round(texts.wall),
  texts_per_cpu_s: round(texts.cpu),
  digests_per_cpu_s: round(digests.cpu),
  sketches_per_s: round(sketches.wall),
  sketches_per_cpu_s: round(sketches.cpu),
  cpu_ms_per_sketch: round(sketches.cpuSeconds * 1000),
  realdata,
  loadavg_1m: round(loadavg()[0] ?? 0),
  node: process.version,
  target: { sketches_per_s: 50 },
};
console.log(
  `${probesN}-probe sketch, version ${version} (${words} words): ${result.sketches_per_s}/s wall, ${result.sketches_per_cpu_s} per CPU-second (${result.cpu_ms_per_sketch} CPU ms each; target >= 50/s); texts ${result.texts_per_s}/s wall, ${result.texts_per_cpu_s} per CPU-second; digests ${result.digests_per_cpu_s} per CPU-second; load ${result.loadavg_1m}`,
);
console.log(
  "skipped" in realdata
    ? `realdata: skipped (${realdata.skipped})`
    : `realdata: tokenize = its definition on all ${realdata.texts} outputs (${realdata.non_ascii_texts} not ASCII); a ${realdata.probes}-probe real fingerprint sketches in ${realdata.cpu_ms_per_sketch} CPU ms`,
);
if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
