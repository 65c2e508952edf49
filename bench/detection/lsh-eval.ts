/**
 * First-stage retrieval on the testbed (issue 3, "Sketches"; libs/fingerprint sketch-*.ts, LSH_V1 then the
 * per-probe fine stage PROBE_STAGE_V1, issue 11): the member teachers' sketches are indexed in a SketchIndex;
 * every suspect's sketch queries it. Recall is
 * over (suspect, member teacher) pairs the suspect derives from; the false-candidate rate over pairs it
 * does not. Next to each pair, the exact coarse Jaccard — (probe id, SHINGLE_SIZE-shingle) sets, the
 * quantity the coarse signature estimates — so recall can be read at and above the design similarity.
 */
import {
  buildSketch,
  DEFAULT_PROBE_STAGE,
  LSH_V1,
  type ProbeStageParams,
  SHINGLE_SIZE,
  type Sketch,
  type SketchContext,
  SketchIndex,
  type SketchProbeInput,
  tokenize,
} from "@lineage/fingerprint";
import { median } from "./stats.js";

/** A (suspect, teacher) pair with its truth. */
export interface LshPair {
  readonly suspectId: string;
  readonly teacherId: string;
  readonly derived: boolean;
}

/** The exact coarse shingle set of a fingerprint. */
export function coarseShingles(inputs: readonly SketchProbeInput[]): Set<string> {
  const set = new Set<string>();
  for (const p of inputs) {
    const tok = tokenize(p.text);
    const w = Math.min(SHINGLE_SIZE, tok.length);
    for (let i = 0; w > 0 && i + w <= tok.length; i++)
      set.add(`${p.probeId}\u0000${tok.slice(i, i + w).join(" ")}`);
  }
  return set;
}

/** Jaccard of two sets (0 when both are empty). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let inter = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) inter++;
  const union = a.size + b.size - inter;
  return union === 0 ? 0 : inter / union;
}

const r4 = (x: number) => Number(x.toFixed(4));

function dist(xs: readonly number[]) {
  return xs.length === 0
    ? null
    : { min: r4(Math.min(...xs)), median: r4(median(xs) ?? 0), max: r4(Math.max(...xs)) };
}

/**
 * Builds sketches under `context`, indexes the teachers of `pairs` and reports retrieval.
 * `fingerprints` maps a model id to its sketch input (every pair's models must be present).
 * `options.probeStage` is the index's fine stage (default DEFAULT_PROBE_STAGE, as the hub: the coarse bands alone).
 */
export function evaluateLsh(
  fingerprints: ReadonlyMap<string, readonly SketchProbeInput[]>,
  pairs: readonly LshPair[],
  context: SketchContext,
  options: { readonly probeStage?: ProbeStageParams | false } = {},
) {
  const probeStage = options.probeStage ?? DEFAULT_PROBE_STAGE;
  const sketches = new Map<string, Sketch>();
  const sets = new Map<string, Set<string>>();
  const need = (id: string) => {
    const inp = fingerprints.get(id);
    if (!inp) throw new RangeError(`no fingerprint for ${id}`);
    if (!sketches.has(id)) {
      sketches.set(id, buildSketch(inp, context));
      sets.set(id, coarseShingles(inp));
    }
  };
  const index = new SketchIndex(context.epochId);
  for (const p of pairs) {
    need(p.suspectId);
    need(p.teacherId);
    if (!index.has(p.teacherId)) index.add(p.teacherId, sketches.get(p.teacherId) as Sketch);
  }
  const candidates = new Map<string, Set<string>>();
  const rows = pairs.map((p) => {
    let c = candidates.get(p.suspectId);
    if (!c) {
      c = new Set(
        index
          .query(sketches.get(p.suspectId) as Sketch, { exclude: p.suspectId, probeStage })
          .map((x) => x.modelRef),
      );
      candidates.set(p.suspectId, c);
    }
    return {
      ...p,
      candidate: c.has(p.teacherId),
      exact: jaccard(sets.get(p.suspectId) as Set<string>, sets.get(p.teacherId) as Set<string>),
    };
  });
  const s = LSH_V1.designSimilarity;
  const pos = rows.filter((r) => r.derived);
  const neg = rows.filter((r) => !r.derived);
  const posAt = pos.filter((r) => r.exact >= s);
  const rate = (xs: readonly { candidate: boolean }[]) =>
    xs.length === 0 ? null : r4(xs.filter((x) => x.candidate).length / xs.length);
  return {
    design_similarity: s,
    params: {
      bands: LSH_V1.bands,
      rows: LSH_V1.rows,
      min_agreeing_bands: LSH_V1.minAgreeingBands,
      probe_stage:
        probeStage === false
          ? null
          : { design_similarity: probeStage.designSimilarity, recall: probeStage.recall },
    },
    positive_pairs: pos.length,
    positives_retrieved: pos.filter((r) => r.candidate).length,
    recall: rate(pos),
    recall_at_or_above_design: rate(posAt),
    positive_pairs_at_or_above_design: posAt.length,
    null_pairs: neg.length,
    null_candidates: neg.filter((r) => r.candidate).length,
    false_candidate_rate: rate(neg),
    exact_jaccard: { positives: dist(pos.map((r) => r.exact)), nulls: dist(neg.map((r) => r.exact)) },
    missed: pos
      .filter((r) => !r.candidate)
      .map((r) => ({ suspect: r.suspectId, teacher: r.teacherId, exact: r4(r.exact) })),
    /** Per suspect, the indexed teachers it retrieved: the sessions the hub would open for it. */
    candidates_by_suspect: Object.fromEntries([...candidates].map(([k, v]) => [k, [...v].sort()])),
  };
}
