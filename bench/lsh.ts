/**
 * Sketch retrieval benchmark (issue 3, "Sketches"; libs/fingerprint lsh-params.ts, probe-stage.ts,
 * sketch-index.ts): does the coarse LSH index, followed by the per-probe fine stage (PROBE_STAGE_V1, issue 11),
 * retrieve copies at the design similarity, how many unrelated models does it pass, and how fast are
 * sketches built and queries answered.
 *
 *   npm run bench:lsh [-- --json FILE] [--teachers N] [--no-realdata] [--version 1|2] [--no-testbed]
 *                     [--testbed-size full|small]
 *
 * --version builds sketches of that definition (default SKETCH_VERSION = 2; version 1 to compare). Both
 * versions share their row values (sketch-keys.ts), so sections 1-2 give the same figures under both.
 *
 * 1. Synthetic, controlled Jaccard: N teacher models (20 probes x 200 unique words each); for each
 *    target Jaccard a student copies exactly enough word runs that the coarse (probe, 2-shingle) Jaccard
 *    with its teacher equals the target (computed exactly). All teachers are indexed; a student counts as
 *    retrieved when its teacher is among the query's candidates. Gives P(candidate | J) measured against
 *    the binomial model, recall at the design similarity, and the false-candidate rate below it.
 * 2. Real outputs: the 34 replay files of /work/shared/realdata (read in place through node:zlib, never
 *    copied), sketched as 805-probe fingerprints under one epoch key and all indexed. For each labelled
 *    pair of pairs.csv (teacher = the family's first teacher, as the README's scoring says), whether the
 *    teacher is a candidate for the candidate's sketch: recall over students (label 1), false-candidate
 *    rate over unrelated models (label 0, evidence documented/likely/assumed; "weak" separately), next to
 *    the exact coarse Jaccard of each pair.
 * 3. Throughput: sketches/s for the 805-probe real fingerprints and the synthetic ones; query time of the
 *    synthetic index (200 teachers) with and without the fine stage, and the Student quantile of a fine-stage
 *    rule computed cold (memoized per recall afterwards).
 * 4. Wrong-answer digests (issue 8; docs/privacy.md): the testbed's test population (--testbed-size, default full) (edge probes with
 *    reference answers; built or read from .cache/testbed) answers its battery in process (the
 *    engine's probe settings: greedy, 200 tokens), every model is sketched under version 1 (which publishes wrong-answer digests) and
 *    version 2 (which does not), the member teachers are indexed, and each suspect queries. Candidacy
 *    (recall over derived pairs, false-candidate rate over the others) and the ranking the hub's retriever
 *    applies within a suspect's candidates (score; top-1 and mean reciprocal rank of a true teacher) are
 *    reported for v1 with its wrong answers, v1 with them removed, and v2.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  buildSketch,
  candidateProbability,
  compareSketches,
  createSketchContext,
  LSH_V1,
  PROBE_STAGE_V1,
  pickLshParams,
  SHINGLE_SIZE,
  SKETCH_VERSION,
  type Sketch,
  type SketchContext,
  SketchIndex,
  type SketchProbeInput,
  type SketchVersion,
  studentTQuantile,
  tokenize,
} from "@lineage/fingerprint";
import { buildPopulation } from "@lineage/testbed";
import { sketchInputs } from "./detection/study-kit.js";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`bench/lsh: ${name} needs a value`);
    process.exit(2);
  }
  return v;
}
const jsonFile = flag("--json");
const teachersN = Number(flag("--teachers") ?? 200);
if (!(Number.isInteger(teachersN) && teachersN >= 10 && teachersN <= 5000)) {
  console.error("bench/lsh: --teachers must be an integer in 10..5000");
  process.exit(2);
}
const withRealdata = !args.includes("--no-realdata");
const withTestbed = !args.includes("--no-testbed");
const versionArg = flag("--version") ?? String(SKETCH_VERSION);
if (versionArg !== "1" && versionArg !== "2") {
  console.error("bench/lsh: --version must be 1 or 2");
  process.exit(2);
}
const version: SketchVersion = versionArg === "1" ? 1 : 2;
const testbedSize = flag("--testbed-size") ?? "full";
if (testbedSize !== "full" && testbedSize !== "small") {
  console.error("bench/lsh: --testbed-size must be full or small");
  process.exit(2);
}
const realdataDir = resolve(import.meta.dirname, "../../shared/realdata");

const ctx = createSketchContext(
  Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff),
  "bench-lsh-1",
  version,
);
const s = LSH_V1.designSimilarity;

// ---------------------------------------------------------------------------------------------------
// 1. Synthetic populations with controlled Jaccard.
const PROBES = 20;
const WORDS = 200; // 199 distinct 2-shingles per probe
const BIGRAMS = PROBES * (WORDS - 1);

/**
 * A student sharing exactly `shared` (probe, 2-shingle) pairs with its teacher: on each probe it keeps
 * the teacher's first k words (k - 1 shared shingles) and replaces the rest with fresh words, k spread
 * over probes so the total is exact. Returns the texts and the exact coarse Jaccard.
 */
function student(teacher: string[][], shared: number, tag: string): { texts: string[][]; jaccard: number } {
  const per = Math.floor(shared / PROBES);
  let extra = shared - per * PROBES;
  const texts = teacher.map((words, p) => {
    const k = per + (extra-- > 0 ? 1 : 0);
    const keep = k === 0 ? 0 : k + 1;
    return words.map((w, i) => (i < keep ? w : `${tag}p${p}w${i}`));
  });
  return { texts, jaccard: shared / (2 * BIGRAMS - shared) };
}

function sharedFor(j: number): number {
  return Math.round((2 * BIGRAMS * j) / (1 + j));
}

function inputs(texts: string[][]): SketchProbeInput[] {
  return texts.map((words, p) => ({ probeId: `probe-${p}`, kind: "open", text: words.join(" ") }));
}

const levels = [...new Set([0.01, 0.02, s / 2, 0.04, 0.05, s, 0.07, 0.08, 0.1, 0.15, 0.2])].sort(
  (a, b) => a - b,
);
console.log(
  `LSH_V1: ${LSH_V1.bands} bands x ${LSH_V1.rows} row(s), candidate when >= ${LSH_V1.minAgreeingBands} bands agree; design similarity ${s}`,
);
console.log(
  `fine stage (PROBE_STAGE_V1): per-probe rows at design similarity ${PROBE_STAGE_V1.designSimilarity}, recall ${PROBE_STAGE_V1.recall} (the "modelled" column below is the coarse stage's alone)`,
);
console.log(
  `synthetic: ${teachersN} teachers x ${levels.length} similarity levels (${PROBES} probes x ${WORDS} words)`,
);
const teacherTexts: string[][][] = [];
const index = new SketchIndex(ctx.epochId);
let synthSketches = 0;
let t0 = performance.now();
for (let t = 0; t < teachersN; t++) {
  const texts = Array.from({ length: PROBES }, (_, p) =>
    Array.from({ length: WORDS }, (_, i) => `t${t}p${p}w${i}`),
  );
  teacherTexts.push(texts);
  index.add(`teacher-${t}`, buildSketch(inputs(texts), ctx));
  synthSketches++;
}
const curve: {
  target: number;
  jaccard: number;
  queries: number;
  retrieved: number;
  rate: number;
  modelled: number;
  mean_estimated_jaccard: number;
  other_candidates: number;
}[] = [];
for (const target of levels) {
  const shared = sharedFor(target);
  let retrieved = 0;
  let others = 0;
  let estSum = 0;
  let exact = 0;
  for (let t = 0; t < teachersN; t++) {
    const st = student(teacherTexts[t] as string[][], shared, `s${target}t${t}`);
    exact = st.jaccard;
    const sk = buildSketch(inputs(st.texts), ctx);
    synthSketches++;
    const cands = index.query(sk, { probeStage: PROBE_STAGE_V1 });
    if (cands.some((c) => c.modelRef === `teacher-${t}`)) retrieved++;
    others += cands.filter((c) => c.modelRef !== `teacher-${t}`).length;
    const counts = index.bandAgreement(sk).get(`teacher-${t}`) ?? 0;
    estSum += counts / LSH_V1.bands;
  }
  curve.push({
    target,
    jaccard: exact,
    queries: teachersN,
    retrieved,
    rate: retrieved / teachersN,
    modelled: candidateProbability(exact, LSH_V1),
    mean_estimated_jaccard: estSum / teachersN,
    other_candidates: others,
  });
}
const synthSeconds = (performance.now() - t0) / 1000;

// Query time with and without the fine stage: the design-level students against the 200-teacher index.
const queryTiming = (() => {
  const shared = sharedFor(s);
  const qs = teacherTexts.map((tt, t) => buildSketch(inputs(student(tt, shared, `q${t}`).texts), ctx));
  const time = (probeStage: false | undefined) => {
    for (const q of qs.slice(0, 20)) index.query(q, { probeStage: probeStage ?? PROBE_STAGE_V1 }); // warm
    const t1 = performance.now();
    for (const q of qs) index.query(q, { probeStage: probeStage ?? PROBE_STAGE_V1 });
    return ((performance.now() - t1) * 1000) / qs.length;
  };
  const coarseOnlyUs = time(false);
  const withFineUs = time(undefined);
  // The Student quantile behind a fine-stage rule, computed once per recall (memoized afterwards).
  studentTQuantile(31, 0.9992); // compiled
  const t2 = performance.now();
  studentTQuantile(31, 0.9991);
  const coldThresholdUs = (performance.now() - t2) * 1000;
  return {
    queries: qs.length,
    coarse_only_us: coarseOnlyUs,
    with_fine_stage_us: withFineUs,
    cold_t_quantile_us: coldThresholdUs,
  };
})();

console.log("\nP(candidate | coarse Jaccard), synthetic:");
console.log("  jaccard  retrieved/queries  measured  modelled  mean est. J  unrelated candidates");
for (const c of curve) {
  console.log(
    `  ${c.jaccard.toFixed(4)}  ${`${c.retrieved}/${c.queries}`.padStart(17)}  ${c.rate.toFixed(4).padStart(8)}  ${c.modelled
      .toFixed(4)
      .padStart(
        8,
      )}  ${c.mean_estimated_jaccard.toFixed(4).padStart(11)}  ${String(c.other_candidates).padStart(20)}`,
  );
}
const atDesign = curve.find((c) => c.target === s);
const atLow = curve.find((c) => c.target === s / 2);
if (atDesign === undefined || atLow === undefined) throw new Error("bench/lsh: design level missing");

// ---------------------------------------------------------------------------------------------------
// 2. Real model outputs.
interface RealPair {
  family: string;
  teacher: string;
  candidate: string;
  label: 0 | 1;
  evidence: string;
  exact_coarse_jaccard: number;
  estimated_coarse_jaccard: number;
  agreeing_bands: number;
  candidate_retrieved: boolean;
}
let realdata:
  | {
      models: number;
      probes: number;
      students: number;
      students_retrieved: number;
      recall: number;
      students_at_or_above_design: number;
      recall_at_or_above_design: number;
      negatives: number;
      negatives_retrieved: number;
      false_candidate_rate: number;
      weak_negatives: number;
      weak_negatives_retrieved: number;
      weak_false_candidate_rate: number;
      min_student_exact_jaccard: number;
      pairs: RealPair[];
    }
  | { skipped: string } = { skipped: "--no-realdata" };
let realThroughput: number | null = null;

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

if (withRealdata) {
  const replayDir = join(realdataDir, "replay");
  if (!existsSync(replayDir)) {
    realdata = { skipped: `${replayDir} not found` };
    console.log(`\nrealdata: skipped (${replayDir} not found)`);
  } else {
    const models = readdirSync(replayDir)
      .filter((f) => f.endsWith(".jsonl.gz"))
      .map((f) => f.slice(0, -".jsonl.gz".length))
      .sort();
    const sketches = new Map<string, Sketch>();
    const shingleSets = new Map<string, Set<string>>();
    let probes = 0;
    const kept: SketchProbeInput[][] = [];
    const realIndex = new SketchIndex(ctx.epochId);
    for (const m of models) {
      const lines = gunzipSync(readFileSync(join(replayDir, `${m}.jsonl.gz`)))
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "");
      const inp: SketchProbeInput[] = lines.map((l, i) => {
        const o = JSON.parse(l) as { id?: unknown; output?: unknown };
        if (typeof o.id !== "string" || typeof o.output !== "string") {
          throw new Error(`bench/lsh: ${m} line ${i + 1} lacks string id/output`);
        }
        return { probeId: o.id, kind: "open", text: o.output };
      });
      probes = Math.max(probes, inp.length);
      const sk = buildSketch(inp, ctx);
      if (kept.length < 6) kept.push(inp);
      sketches.set(m, sk);
      realIndex.add(m, sk);
      // Exact (probe, 2-shingle) set, the quantity the coarse signature estimates.
      const set = new Set<string>();
      for (const p of inp) {
        const tok = tokenize(p.text);
        const w = Math.min(SHINGLE_SIZE, tok.length);
        for (let i = 0; i + w <= tok.length && w > 0; i++)
          set.add(`${p.probeId}\u0000${tok.slice(i, i + w).join(" ")}`);
      }
      shingleSets.set(m, set);
    }
    // Warm (JIT-compiled) rebuilds of a few real fingerprints, timed apart from loading and indexing.
    const tb = performance.now();
    for (const inp of kept) buildSketch(inp, ctx);
    realThroughput = kept.length / ((performance.now() - tb) / 1000);
    const exactJ = (a: Set<string>, b: Set<string>): number => {
      let inter = 0;
      for (const x of a) if (b.has(x)) inter++;
      return inter / (a.size + b.size - inter);
    };
    const rows = readFileSync(join(realdataDir, "pairs.csv"), "utf8")
      .trim()
      .split(/\r?\n/)
      .slice(1)
      .map(parseCsvLine);
    const pairs: RealPair[] = [];
    for (const r of rows) {
      const [family = "", teachers = "", candidate = "", , label = "", , evidence = ""] = r;
      if (label !== "0" && label !== "1") continue;
      const teacher = teachers.split(";")[0] ?? "";
      const ts = sketches.get(teacher);
      const cs = sketches.get(candidate);
      const tset = shingleSets.get(teacher);
      const cset = shingleSets.get(candidate);
      if (!ts || !cs || !tset || !cset)
        throw new Error(`bench/lsh: no replay for ${teacher} or ${candidate}`);
      const retrieved = realIndex
        .query(cs, { exclude: candidate, probeStage: PROBE_STAGE_V1 })
        .some((c) => c.modelRef === teacher);
      const sim = compareSketches(ts, cs);
      pairs.push({
        family,
        teacher,
        candidate,
        label: label === "1" ? 1 : 0,
        evidence,
        exact_coarse_jaccard: exactJ(tset, cset),
        estimated_coarse_jaccard: sim.coarseJaccard,
        agreeing_bands: sim.coarseAgreeingBands,
        candidate_retrieved: retrieved,
      });
    }
    const pos = pairs.filter((p) => p.label === 1);
    const posHigh = pos.filter((p) => p.exact_coarse_jaccard >= s);
    const neg = pairs.filter((p) => p.label === 0 && p.evidence !== "weak");
    const weak = pairs.filter((p) => p.label === 0 && p.evidence === "weak");
    const hits = (xs: RealPair[]) => xs.filter((p) => p.candidate_retrieved).length;
    realdata = {
      models: models.length,
      probes,
      students: pos.length,
      students_retrieved: hits(pos),
      recall: hits(pos) / pos.length,
      students_at_or_above_design: posHigh.length,
      recall_at_or_above_design: posHigh.length > 0 ? hits(posHigh) / posHigh.length : Number.NaN,
      negatives: neg.length,
      negatives_retrieved: hits(neg),
      false_candidate_rate: hits(neg) / neg.length,
      weak_negatives: weak.length,
      weak_negatives_retrieved: hits(weak),
      weak_false_candidate_rate: weak.length > 0 ? hits(weak) / weak.length : Number.NaN,
      min_student_exact_jaccard: Math.min(...pos.map((p) => p.exact_coarse_jaccard)),
      pairs,
    };
    console.log(`\nrealdata: ${models.length} models x ${probes} prompts, teacher = family's first teacher`);
    console.log(
      "  family      candidate                       label evidence    exact J  est. J  bands  candidate",
    );
    for (const p of pairs) {
      console.log(
        `  ${p.family.padEnd(10)}  ${p.candidate.padEnd(30)}  ${p.label}     ${p.evidence.padEnd(10)}  ${p.exact_coarse_jaccard.toFixed(4)}  ${p.estimated_coarse_jaccard.toFixed(4)}  ${String(p.agreeing_bands).padStart(5)}  ${p.candidate_retrieved ? "yes" : "no"}`,
      );
    }
    console.log(
      `  students retrieved ${hits(pos)}/${pos.length} (recall ${(hits(pos) / pos.length).toFixed(3)}); with exact J >= ${s}: ${hits(posHigh)}/${posHigh.length}`,
    );
    console.log(
      `  unrelated passed ${hits(neg)}/${neg.length} (false-candidate rate ${(hits(neg) / neg.length).toFixed(3)}); weak negatives ${hits(weak)}/${weak.length}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// 3. Throughput (synthetic figures include index queries).
t0 = performance.now();
const timed = teacherTexts.slice(0, Math.min(100, teacherTexts.length));
for (const texts of timed) buildSketch(inputs(texts), ctx);
const synthThroughput = timed.length / ((performance.now() - t0) / 1000);
console.log(
  `\nthroughput: ${synthThroughput.toFixed(1)} sketches/s (${PROBES} probes x ${WORDS} words)` +
    (realThroughput !== null ? `, ${realThroughput.toFixed(2)} sketches/s (real, 805 probes)` : ""),
);
console.log(`synthetic phase: ${synthSketches} sketches + queries in ${synthSeconds.toFixed(1)} s`);
console.log(
  `query (${teachersN} indexed, ${queryTiming.queries} design-level students): ${queryTiming.coarse_only_us.toFixed(0)} us coarse only, ${queryTiming.with_fine_stage_us.toFixed(0)} us with the fine stage; a fine-stage rule's t quantile computed once in ${queryTiming.cold_t_quantile_us.toFixed(0)} us`,
);

// ---------------------------------------------------------------------------------------------------
// 4. Wrong-answer digests on the testbed: do they change who is retrieved, or how candidates rank?
interface Retrieval {
  derived_pairs: number;
  derived_retrieved: number;
  recall: number;
  null_pairs: number;
  null_candidates: number;
  false_candidate_rate: number;
  /** Suspects with >= 1 true teacher among their candidates. */
  ranked_suspects: number;
  /** Of those, the share whose best-scored candidate is a true teacher. */
  top1: number;
  /** Mean over them of 1 / rank of the best-ranked true teacher. */
  mrr: number;
}
let testbed:
  | {
      population: string;
      models: number;
      member_teachers: number;
      probes: number;
      edge_probes: number;
      mean_wrong_answers_v1: number;
      v1_with_wrong_answers: Retrieval;
      v1_without_wrong_answers: Retrieval;
      v2: Retrieval;
    }
  | { skipped: string } = { skipped: "--no-testbed" };
if (withTestbed) {
  const tt = performance.now();
  const pop = await buildPopulation({ split: "test", size: testbedSize });
  const teachers = pop.members.filter((m) => pop.entries.some((e) => e.id === m.teacherId));
  const teacherIds = new Set(teachers.map((m) => m.teacherId));
  const fps = new Map<string, SketchProbeInput[]>();
  for (const e of pop.entries) {
    fps.set(e.id, sketchInputs(pop.probes, e));
  }
  const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff);
  const evaluate = (c: SketchContext, strip: boolean): { r: Retrieval; wrong: number } => {
    const sk = new Map<string, Sketch>();
    let wrong = 0;
    for (const [id, inp] of fps) {
      const x = buildSketch(inp, c);
      wrong += x.wrongAnswers.length;
      sk.set(id, strip ? { ...x, wrongAnswers: [] } : x);
    }
    const idx = new SketchIndex(c.epochId);
    for (const t of teacherIds) idx.add(t, sk.get(t) as Sketch);
    let dp = 0;
    let dr = 0;
    let np = 0;
    let nc = 0;
    let ranked = 0;
    let top1 = 0;
    let rr = 0;
    for (const e of pop.entries) {
      if (teacherIds.has(e.id)) continue;
      const cands = idx.query(sk.get(e.id) as Sketch, { probeStage: PROBE_STAGE_V1 }); // ranked by score, as the hub's retriever does
      const truth = new Set(
        e.members.map((m) => teachers.find((t) => t.memberId === m.memberId)?.teacherId).filter(Boolean),
      );
      for (const t of teacherIds) {
        const hit = cands.some((x) => x.modelRef === t);
        if (truth.has(t)) {
          dp++;
          if (hit) dr++;
        } else {
          np++;
          if (hit) nc++;
        }
      }
      const first = cands.findIndex((x) => truth.has(x.modelRef));
      if (first >= 0) {
        ranked++;
        if (first === 0) top1++;
        rr += 1 / (first + 1);
      }
    }
    return {
      wrong: wrong / fps.size,
      r: {
        derived_pairs: dp,
        derived_retrieved: dr,
        recall: dp > 0 ? dr / dp : Number.NaN,
        null_pairs: np,
        null_candidates: nc,
        false_candidate_rate: np > 0 ? nc / np : Number.NaN,
        ranked_suspects: ranked,
        top1: ranked > 0 ? top1 / ranked : Number.NaN,
        mrr: ranked > 0 ? rr / ranked : Number.NaN,
      },
    };
  };
  const v1 = createSketchContext(key, "bench-lsh-testbed", 1);
  const withWrong = evaluate(v1, false);
  const withoutWrong = evaluate(v1, true);
  const v2 = evaluate(createSketchContext(key, "bench-lsh-testbed", 2), false);
  testbed = {
    population: `test/${testbedSize} (${pop.seed})`,
    models: pop.entries.length,
    member_teachers: teacherIds.size,
    probes: pop.probes.length,
    edge_probes: pop.probes.filter((p) => p.kind === "edge" && p.reference !== undefined).length,
    mean_wrong_answers_v1: withWrong.wrong,
    v1_with_wrong_answers: withWrong.r,
    v1_without_wrong_answers: withoutWrong.r,
    v2: v2.r,
  };
  const line = (name: string, r: Retrieval) =>
    `  ${name.padEnd(26)} recall ${r.derived_retrieved}/${r.derived_pairs} (${r.recall.toFixed(3)})  false-candidate ${r.null_candidates}/${r.null_pairs} (${r.false_candidate_rate.toFixed(3)})  top-1 ${r.top1.toFixed(3)}  MRR ${r.mrr.toFixed(3)} over ${r.ranked_suspects} suspects`;
  console.log(
    `\ntestbed (wrong-answer digests): ${testbed.models} models, ${testbed.member_teachers} member teachers indexed, ${testbed.probes} probes (${testbed.edge_probes} edge), ${withWrong.wrong.toFixed(1)} wrong-answer digests per v1 sketch; ${((performance.now() - tt) / 1000).toFixed(1)} s`,
  );
  console.log(line("v1 with wrong answers", withWrong.r));
  console.log(line("v1 without wrong answers", withoutWrong.r));
  console.log(line("v2 (none published)", v2.r));
}

// The textbook scheme (candidate on >= 1 agreeing band) under the same 512-row budget, for comparison.
const classic = pickLshParams({ designSimilarity: s, rowBudget: LSH_V1.bands * LSH_V1.rows, classic: true });
console.log("\nsummary");
console.log(
  `  classic banding (>= 1 band) within ${LSH_V1.bands * LSH_V1.rows} rows: b=${classic.bands} r=${classic.rows}, modelled recall ${classic.recall.toFixed(4)}, false-candidate rate at J=${classic.lowSimilarity} ${classic.falseCandidateRate.toFixed(4)} (LSH_V1: ${LSH_V1.falseCandidateRate.toFixed(4)})`,
);
console.log(
  `  design similarity ${s}: recall ${atDesign.rate.toFixed(4)} (${atDesign.retrieved}/${atDesign.queries}; target >= 0.99)`,
);
console.log(`  false-candidate rate at J = ${atLow.jaccard.toFixed(3)}: ${atLow.rate.toFixed(4)}`);

const report = {
  sketch_version: version,
  design_similarity: s,
  bands: LSH_V1.bands,
  rows: LSH_V1.rows,
  min_agreeing_bands: LSH_V1.minAgreeingBands,
  recall: atDesign.rate,
  recall_queries: atDesign.queries,
  false_candidate_rate: atLow.rate,
  false_candidate_similarity: atLow.jaccard,
  modelled: { recall: LSH_V1.recall, false_candidate_rate: LSH_V1.falseCandidateRate },
  classic_banding_same_budget: classic,
  synthetic_curve: curve,
  realdata,
  testbed,
  probe_stage: PROBE_STAGE_V1,
  throughput: { sketches_per_s_synthetic: synthThroughput, sketches_per_s_real_805_probes: realThroughput },
  query_timing: queryTiming,
};
if (jsonFile !== undefined) {
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${jsonFile}`);
}
