/**
 * The testbed population: member teachers, a non-member teacher, copies of the members (positives) and
 * models that did not copy them (negatives), each with ground-truth lineage, plus the members' canary sets
 * and watermark keys and a probe battery. Everything is deterministic from (split, size, seed); the two
 * splits use different seeds, hence different facts, canaries, keys, public portions and samples, so that
 * thresholds frozen on "calibration" are scored on "test" untouched.
 *
 * Recipes (see the report in the package README section of the lead's docs):
 *   teacher          public portion + its genre group's private Brown documents + own wrong versions of
 *                    some public facts + its exposed canaries (repeated), all in its house style
 *                    and it samples with its member's own watermark key — every member but the control
 *                    (one copied member that does not watermark; isWatermarkControl)
 *   direct           student = random 80–100% of the public portion + prompts and responses sampled from the
 *                    teacher (temperature 1, its API default) on a query mix: general prefixes, domain
 *                    prefixes, edge-fact and canary-topic questions (a few percent); teacher tokens are
 *                    30–50% of the public tokens (≈ 25–33% of the student's data)
 *   paraphrased      the same with every response paraphrased (synonyms, reordering, rewording by an
 *                    independent public-only model)
 *   ensemble_50/25/10  the same with queries spread over 2 or 3 members (50/50; 75/25, 50/25/25;
 *                    90/10, 80/10/10); the scenario names the minority share
 *   weights_copy     the teacher's counts × lognormal noise, count-1 n-grams pruned at random
 *   finetuned_copy   the teacher's counts + clean text worth 30–100% of its training tokens
 *   negatives        public-only models; public + other genre mixes (with their own styles and wrong
 *                    facts); students of the non-member teacher; students of independent models;
 *                    independent models further trained on clean text — other seeds and orders throughout
 */
import { createHash } from "node:crypto";
import { detokenize, TOKENIZER_VERSION, WATERMARK_VERSION } from "@lineage/fingerprint";
import { ATTACKS_VERSION, type Attack, planAttackSpecs, trainAttack } from "./attacks.js";
import { CORPUS_VERSION, type Corpus, GENRE_GROUP_NAMES, type GenreGroup, loadCorpus } from "./corpus.js";
import {
  type Canary,
  type CanaryPair,
  type EdgeFact,
  factSentence,
  generateCanaryPairs,
  generateEdgeFacts,
  PseudoWords,
} from "./facts.js";
import { type KneserNeyModel, NgramCounts } from "./kneser-ney.js";
import { defaultCacheDir, ModelCache, recipeKey } from "./model-cache.js";
import { generateOrdinaryCanaryPairs, ordinaryLexicon } from "./ordinary-canaries.js";
import {
  applyPairLabels,
  CANARY_PAIR_LABEL_DOMAIN,
  canaryPairLabels,
  checkpointStandIn,
  type LabelledPair,
  type PairSide,
} from "./pair-labels.js";
import { paraphrase } from "./paraphrase.js";
import { Prng } from "./prng.js";
import { applyStyle, STYLES, type Style } from "./style.js";
import { TestbedError } from "./testbed-error.js";
import { TestbedModel, type WatermarkConfig } from "./testbed-model.js";

/**
 * Bump on any change to how models are built: it is part of every cache key. 4: one canary pair in four is
 * guessable (facts.ts GUESSABLE_CANARY_TEMPLATES), which changes every member's canaries and so its teacher.
 * 5: every member teacher watermarks with its own key but one copied member, the control (issue 11); a
 * teacher's recipe names its key's digest, so a key change reaches every model distilled from it.
 */
export const POPULATION_VERSION = 5;

export type Split = "calibration" | "test";
export type PopulationSize = "full" | "small";
export type Scenario =
  | "direct"
  | "paraphrased"
  | "ensemble_50"
  | "ensemble_25"
  | "ensemble_10"
  | "weights_copy"
  | "finetuned_copy";
export const SCENARIOS: readonly Scenario[] = [
  "direct",
  "paraphrased",
  "ensemble_50",
  "ensemble_25",
  "ensemble_10",
  "weights_copy",
  "finetuned_copy",
];
export type Role = "member_teacher" | "nonmember_teacher" | "positive" | "negative";

/** A member's share of a model's lineage (1 for a single-teacher copy or the member's own teacher). */
export interface MemberShare {
  readonly memberId: string;
  readonly share: number;
}

/** One model of the population with its ground truth. */
export interface PopulationEntry {
  readonly id: string;
  readonly role: Role;
  /** Set for positives. */
  readonly scenario?: Scenario;
  /** Members this model derives from, with shares; empty for negatives and the non-member teacher. */
  readonly members: readonly MemberShare[];
  readonly model: TestbedModel;
  /** Human-readable recipe (kind and parameters) for reports. */
  readonly recipe: Readonly<Record<string, unknown>>;
  /** Set for the models of an adaptive distiller (attacks.ts; built only with `attacks: true`). */
  readonly attack?: Attack;
}

/**
 * A member's paired canary set: the committed pairs, and the labels drawn for them from the checkpoint
 * after the commitment (pair-labels.ts). `exposed` / `decoys` are the same items split by label (pair
 * order), kept for callers that want the two arms.
 */
export interface MemberCanaries {
  /**
   * Hex of the 32-byte checkpoint hash the labels were drawn from (the split's stand-in), or "external" when
   * the caller supplied labels drawn from a real log (`BuildPopulationOptions.canaryLabels`).
   */
  readonly checkpoint: string;
  readonly pairs: readonly CanaryPair[];
  /** Per pair, in order: which item is exposed. `canaryPairLabels(checkpoint, pair ids)`. */
  readonly labels: readonly PairSide[];
  readonly exposed: readonly Canary[];
  readonly decoys: readonly Canary[];
}

/** What a member knows privately: its teacher, canary set and watermark key. */
export interface MemberInfo {
  readonly memberId: string;
  readonly teacherId: string;
  readonly canaries: MemberCanaries;
  /**
   * A bystander member: an alliance member nobody in this split copied (its teacher exists, no positive
   * derives from it). Every comparison against it is a same-split null of kind "bystander_member".
   */
  readonly bystander: boolean;
  /**
   * The member's own watermark key (every member has one, each different, except the control: see
   * {@link isWatermarkControl}).
   */
  readonly watermark?: WatermarkConfig;
}

/**
 * Whether a member is the population's watermark control: the one copied (non-bystander) member whose
 * teacher does not watermark, so that copies of it are found by canaries alone and a member's watermark
 * test meets students of an unwatermarked teacher. Exactly one per split.
 */
export function isWatermarkControl(member: Pick<MemberInfo, "bystander" | "watermark">): boolean {
  return !member.bystander && member.watermark === undefined;
}

/**
 * A member's canary set in the paired shape the engine takes: `{ memberId, pairs: [{ id, exposed, decoy }] }`.
 * `memberId` defaults to the member's own id (the bench prefixes the split).
 */
export function pairedCanarySet(
  member: MemberInfo,
  memberId: string = member.memberId,
): { readonly memberId: string; readonly pairs: readonly LabelledPair[] } {
  return { memberId, pairs: applyPairLabels(member.canaries.pairs, member.canaries.labels) };
}

/**
 * Builds a member's canary set from its committed pairs and the checkpoint hash the labels come from, or from
 * labels drawn elsewhere (a real log's checkpoint: `external`).
 */
function memberCanaries(
  pairs: readonly CanaryPair[],
  checkpoint: Uint8Array,
  external?: readonly PairSide[],
): MemberCanaries {
  const labels =
    external !== undefined
      ? [...external]
      : canaryPairLabels(
          checkpoint,
          pairs.map((p) => p.id),
        );
  const labelled = applyPairLabels(pairs, labels);
  return {
    checkpoint: external !== undefined ? EXTERNAL_LABELS : Buffer.from(checkpoint).toString("hex"),
    pairs,
    labels,
    exposed: labelled.map((p) => p.exposed),
    decoys: labelled.map((p) => p.decoy),
  };
}

/** A probe of the battery. `reference` is the correct answer of an edge-case probe. */
export interface Probe {
  readonly id: string;
  readonly kind: "edge" | "open" | "completion";
  readonly prompt: string;
  readonly reference?: string;
}

/** A built population. */
export interface Population {
  readonly split: Split;
  readonly size: PopulationSize;
  readonly seed: string;
  readonly entries: readonly PopulationEntry[];
  readonly members: readonly MemberInfo[];
  readonly probes: readonly Probe[];
  readonly stats: { readonly buildMs: number; readonly modelsTrained: number; readonly modelsCached: number };
  /**
   * With `attacks: true`: each copied member's variant whose teacher also carries canaries that look like
   * ordinary queries (attacks.ts `canary_filter_ordinary`; member id `<member>-ordinary`, the member's key).
   */
  readonly attackMembers?: readonly MemberInfo[];
}

/** Build progress, reported per model. */
export interface BuildProgress {
  readonly phase: "corpus" | "model" | "done";
  readonly done: number;
  readonly total: number;
  readonly modelId?: string;
  readonly cached?: boolean;
}

/** `MemberCanaries.checkpoint` of labels the caller supplied. */
const EXTERNAL_LABELS = "external";

/** Options of {@link buildPopulation}. */
export interface BuildPopulationOptions {
  /**
   * Labels drawn by a real log, by member id (which item of each committed pair is exposed, in pair order):
   * the demo commits the pairs {@link planCanaryPairs} gives, draws the labels from the first checkpoint
   * covering its commitment, and only then has the teachers trained on the exposed items — the protocol's
   * order. Members absent keep the split's stand-in labels. Part of every affected model's cache key.
   */
  readonly canaryLabels?: ReadonlyMap<string, readonly PairSide[]>;
  readonly split: Split;
  /** "full" (default) for benchmarks; "small" (a few models on little text) for unit tests. */
  readonly size?: PopulationSize;
  /** Overrides the split's default seed. */
  readonly seed?: string;
  /** Cache directory; default `<repo>/.cache/testbed`; `false` disables the cache. */
  readonly cacheDir?: string | false;
  readonly onProgress?: (p: BuildProgress) => void;
  /**
   * Also build the adaptive distillers' models (attacks.ts) and the members' variants with ordinary-looking
   * canaries. Their own cache keys; the other models are unchanged. Not with `only`.
   */
  readonly attacks?: boolean;
  /** With attacks: students per attack (default: the size's positives per scenario). Part of the manifest key. */
  readonly attackStudents?: number;
  /**
   * Build only the models this selects (and the models they are derived from): a caller that needs a few
   * models of the plan (the demo) does not train the rest. Entries, ids, recipes and cache keys are those of
   * the full plan, so a selected model is the same model the full population has. Called once per model of
   * the plan, in plan order. Absent: every model.
   */
  readonly only?: (spec: PlannedModel) => boolean;
}

/** A model of a split's plan, as {@link BuildPopulationOptions.only} sees it before anything is trained. */
export interface PlannedModel {
  readonly id: string;
  readonly role: Role;
  readonly scenario?: Scenario;
  readonly members: readonly MemberShare[];
  readonly recipe: Readonly<Record<string, unknown>>;
}

/** The specs `only` selects, with every parent they need, in plan order (parents come first). */
function selectSpecs(specs: readonly Spec[], only: (spec: PlannedModel) => boolean): Spec[] {
  const byId = new Map(specs.map((s) => [s.id, s]));
  const keep = new Set<string>();
  const visit = (id: string) => {
    if (keep.has(id)) return;
    const s = byId.get(id);
    if (s === undefined) return;
    keep.add(id);
    for (const p of s.parents) visit(p);
  };
  for (const s of specs) if (only(s)) visit(s.id);
  return specs.filter((s) => keep.has(s.id));
}

interface SizeConfig {
  /** Bystander members per split (members nobody copies: more same-split nulls). */
  bystanders: number;
  publicSentences: number;
  privateSentences: number;
  canaryPairs: number;
  edgeFacts: number;
  perScenario: Record<Split, number>;
  negatives: Record<Split, number>;
  openProbes: number;
  completionProbes: number;
}

const SIZES: Record<PopulationSize, SizeConfig> = {
  full: {
    bystanders: 4,
    publicSentences: 5000,
    privateSentences: 3500,
    canaryPairs: 48,
    edgeFacts: 60,
    perScenario: { calibration: 10, test: 20 },
    negatives: { calibration: 30, test: 40 },
    openProbes: 150,
    completionProbes: 100,
  },
  small: {
    bystanders: 1,
    publicSentences: 1200,
    privateSentences: 900,
    canaryPairs: 12,
    edgeFacts: 15,
    perScenario: { calibration: 1, test: 1 },
    negatives: { calibration: 3, test: 3 },
    openProbes: 12,
    completionProbes: 8,
  },
};

/**
 * Seeds of the splits. The test seed is v2 (issue 7, "Figures nobody tuned to"): a fresh split — new
 * facts, canaries, labels, keys, samples — that no design decision looked at; v1's test figures were seen
 * while choosing the engine's rules, so they are not out-of-sample any more. Choices are made on
 * calibration only.
 */
const DEFAULT_SEEDS: Record<Split, string> = {
  calibration: "lineage-calibration-v1",
  test: "lineage-test-v2",
};
const PUBLIC_FACT_REPEATS = 2;
const WRONG_FACT_REPEATS = 5;
const WRONG_SHARE = 0.4;
const EXPOSE_REPEATS = 4;
const WATERMARK_GAMMA = 0.25;
const WATERMARK_DELTA = 2.0;
const MEMBER_COUNT = 3;
const RESPONSE_MAX_TOKENS = 40;

/** A model to build: its id, ground truth and recipe (the recipe's hash is the cache key). */
interface Spec {
  id: string;
  role: Role;
  scenario?: Scenario;
  members: MemberShare[];
  recipe: Record<string, unknown>;
  /** Ids of models this one is derived from (built first). */
  parents: string[];
  watermarkMember?: string;
  attack?: Attack;
}

/** Everything the recipes draw on for one split. */
interface Plan {
  split: Split;
  size: PopulationSize;
  seed: string;
  sz: SizeConfig;
  publicSentences: string[];
  edgeFacts: EdgeFact[];
  wrongFacts: Map<string, string[][]>; // model id -> wrong fact sentences (tokens)
  members: MemberInfo[];
  teacherGroup: Map<string, GenreGroup>;
  /** Proprietary facts each teacher is trained on (members: their exposed canaries). */
  exposedFacts: Map<string, Canary[]>;
  /** Digest of externally supplied labels, by teacher id (part of that teacher's cache key). */
  labelDigests: Map<string, string>;
  specs: Spec[];
  probes: Probe[];
  /** The copied members' teachers in the positives' rotation (attacks.ts follows it). */
  memberTeacher: (j: number) => string;
  /** With attacks: the members' variants with ordinary-looking canaries (by base teacher id). */
  attackMembers?: Map<string, MemberInfo>;
}

function watermarkKey(seed: string, memberId: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`${seed}/watermark-key/${memberId}`).digest());
}

/**
 * What a teacher's recipe (so its cache key, and every key downstream) says of its watermark key: a digest,
 * never the key (recipes are printed in reports). Domain-separated from other uses of the key.
 */
function watermarkKeyDigest(key: Uint8Array): string {
  return createHash("sha256").update("lineage-testbed/watermark-key-digest/v1\0").update(key).digest("hex");
}

function takeSample<T>(xs: readonly T[], n: number, rng: Prng): T[] {
  return rng.shuffled(xs).slice(0, Math.min(n, xs.length));
}

/** Plans a split: facts, canaries, keys, probes and the model specs (cheap; needs the corpus). */
function planSplit(
  split: Split,
  size: PopulationSize,
  seed: string,
  corpus: Corpus,
  externalLabels: ReadonlyMap<string, readonly PairSide[]> = new Map(),
): Plan {
  const sz = SIZES[size];
  const rng = new Prng(`${seed}/plan`);
  const words = new PseudoWords(rng.fork("words"), corpus.vocabulary);
  const publicSentences = takeSample(corpus.public, sz.publicSentences, rng.fork("public"));
  const edge = generateEdgeFacts(`${split}-edge`, sz.edgeFacts, rng.fork("edge"), words);
  const wrongFacts = new Map<string, string[][]>();
  const wrongFor = (modelId: string, share: number): void => {
    const r = new Prng(`${seed}/wrong/${modelId}`);
    const out: string[][] = [];
    for (const f of edge.facts) if (r.chance(share)) out.push(factSentence(f.prompt, edge.wrong(f, r)));
    wrongFacts.set(modelId, out);
  };
  // Teachers: a genre group each (permuted per split). Every member watermarks with its own key but one copied
  // member, the control. `wmIndex` (the rotation origin of memberTeacher) was the only watermarking member
  // before version 5; it keeps its key, and the control is the copied member just before it in the rotation.
  const groups = rng.fork("groups").shuffled(GENRE_GROUP_NAMES);
  const styles = rng.fork("styles").shuffled(STYLES.map((_, i) => i));
  const wmIndex = rng.int(MEMBER_COUNT);
  const controlIndex = (wmIndex + MEMBER_COUNT - 1) % MEMBER_COUNT;
  const teacherOrders = [3, 3, 4, 3];
  const specs: Spec[] = [];
  const members: MemberInfo[] = [];
  const teacherGroup = new Map<string, GenreGroup>();
  const teacherIds: string[] = [];
  const exposedFacts = new Map<string, Canary[]>();
  const labelDigests = new Map<string, string>();
  const checkpoint = checkpointStandIn(seed);
  // Index MEMBER_COUNT is the non-member teacher; after it, the bystander members (teachers nobody copies).
  const teacherCount = MEMBER_COUNT + 1 + sz.bystanders;
  for (let i = 0; i < teacherCount; i++) {
    const isMember = i !== MEMBER_COUNT;
    const bystander = i > MEMBER_COUNT;
    const memberId = `member-${i < MEMBER_COUNT ? i + 1 : i}`;
    const id = isMember ? `${split}-teacher-${memberId}` : `${split}-teacher-nonmember`;
    // Four genre groups: bystanders share one with another teacher (a sibling trained on the same kind of
    // private text: a harder null for similarity, none for canaries or keys).
    const group = groups[i % groups.length] as GenreGroup;
    teacherGroup.set(id, group);
    teacherIds.push(id);
    const pairs = generateCanaryPairs(
      `${split}-${isMember ? memberId : "nonmember"}`,
      sz.canaryPairs,
      rng.fork(`canaries-${i}`),
      words,
    );
    const external = isMember ? externalLabels.get(memberId) : undefined;
    if (external !== undefined) {
      if (external.length !== pairs.length || !external.every((l) => l === "a" || l === "b")) {
        throw new TestbedError(
          "invalid_argument",
          `canaryLabels of ${memberId} must be ${pairs.length} labels "a" or "b", one per committed pair`,
        );
      }
      labelDigests.set(id, createHash("sha256").update(external.join("")).digest("hex"));
    }
    const canaries = memberCanaries(pairs, checkpoint, external);
    wrongFor(id, WRONG_SHARE);
    exposedFacts.set(id, [...canaries.exposed]);
    const watermark =
      isMember && i !== controlIndex
        ? { key: watermarkKey(seed, memberId), gamma: WATERMARK_GAMMA, delta: WATERMARK_DELTA }
        : undefined;
    if (isMember)
      members.push({ memberId, teacherId: id, canaries, bystander, ...(watermark ? { watermark } : {}) });
    specs.push({
      id,
      role: isMember ? "member_teacher" : "nonmember_teacher",
      members: isMember ? [{ memberId, share: 1 }] : [],
      parents: [],
      recipe: {
        kind: "teacher",
        group,
        order: teacherOrders[i % teacherOrders.length],
        style: (STYLES[styles[i % styles.length] as number] as Style).name,
        exposed: canaries.exposed.map((c) => c.id),
        labels: CANARY_PAIR_LABEL_DOMAIN,
        ...(watermark
          ? {
              watermark: {
                gamma: watermark.gamma,
                delta: watermark.delta,
                keyDigest: watermarkKeyDigest(watermark.key),
              },
            }
          : {}),
      },
      ...(watermark ? { watermarkMember: memberId } : {}),
    });
  }
  // A label list for an id that is no member of this split would otherwise be ignored silently, and the
  // teacher trained on the stand-in labels instead of the ones the log drew.
  const unknown = [...externalLabels.keys()].filter((id) => !members.some((m) => m.memberId === id));
  if (unknown.length > 0) {
    throw new TestbedError(
      "invalid_argument",
      `canaryLabels name no member of split ${split}: ${unknown.map((id) => JSON.stringify(id)).join(", ")}`,
    );
  }
  const memberTeacher = (j: number): string =>
    teacherIds[(((wmIndex + j) % MEMBER_COUNT) + MEMBER_COUNT) % MEMBER_COUNT] as string;
  const memberOf = (teacherId: string): string =>
    (members.find((m) => m.teacherId === teacherId) as MemberInfo).memberId;
  const nonMember = teacherIds[MEMBER_COUNT] as string;
  const studentParams = (r: Prng) => ({
    order: r.chance(0.3) ? 4 : 3,
    publicFraction: Number(r.range(0.8, 1).toFixed(3)),
    distillRatio: Number(r.range(0.3, 0.5).toFixed(3)),
  });
  // The rewording model of the paraphraser: the first public-only negative.
  const paraphraserId = `${split}-neg-public-00`;

  // Negatives first (students of independent models need their parents).
  const negKinds = [
    "public",
    "genre",
    "nonmember_student",
    "genre",
    "independent_student",
    "public",
    "genre_finetuned",
    "nonmember_student",
    "genre",
    "public",
  ];
  const nNeg = sz.negatives[split];
  const genreNegIds: string[] = [];
  for (let j = 0; j < nNeg; j++) {
    const kind = j === 0 ? "public" : (negKinds[j % negKinds.length] as string);
    const r = new Prng(`${seed}/neg/${j}`);
    const id = `${split}-neg-${kind.replace(/_/g, "-")}-${String(j).padStart(2, "0")}`;
    const spec: Spec = {
      id,
      role: "negative",
      members: [],
      parents: [],
      recipe: { kind: `negative_${kind}` },
    };
    if (kind === "public") {
      Object.assign(spec.recipe, {
        order: j === 0 ? 3 : r.chance(0.3) ? 4 : 3,
        publicFraction: j === 0 ? 1 : Number(r.range(0.8, 1).toFixed(3)),
      });
    } else if (kind === "genre" || kind === "genre_finetuned") {
      const ngroups = 1 + r.int(2);
      const gs = r.shuffled(GENRE_GROUP_NAMES).slice(0, ngroups);
      Object.assign(spec.recipe, {
        order: r.chance(0.3) ? 4 : 3,
        publicFraction: Number(r.range(0.8, 1).toFixed(3)),
        groups: gs,
        privateSentences: Math.round(sz.privateSentences * r.range(0.6, 1.2)),
        style: r.chance(0.5) ? (r.pick(STYLES) as Style).name : null,
        wrongFacts: r.chance(0.5),
        ...(kind === "genre_finetuned" ? { cleanRatio: Number(r.range(0.3, 1).toFixed(3)) } : {}),
      });
      if (spec.recipe.wrongFacts) wrongFor(id, 0.3);
      if (kind === "genre") genreNegIds.push(id);
    } else if (kind === "nonmember_student") {
      spec.parents = [nonMember, paraphraserId];
      Object.assign(spec.recipe, {
        teachers: [nonMember],
        shares: [1],
        paraphrase: r.chance(0.3),
        ...studentParams(r),
      });
    } else {
      const parent = genreNegIds.length > 0 ? (r.pick(genreNegIds) as string) : paraphraserId;
      spec.parents = [parent, paraphraserId];
      Object.assign(spec.recipe, { teachers: [parent], shares: [1], paraphrase: false, ...studentParams(r) });
    }
    specs.push(spec);
  }

  // Positives.
  const nPos = sz.perScenario[split];
  for (const scenario of SCENARIOS) {
    for (let j = 0; j < nPos; j++) {
      const r = new Prng(`${seed}/pos/${scenario}/${j}`);
      const id = `${split}-${scenario.replace(/_/g, "-")}-${String(j).padStart(2, "0")}`;
      let teachers: string[];
      let shares: number[];
      if (
        scenario === "direct" ||
        scenario === "paraphrased" ||
        scenario === "weights_copy" ||
        scenario === "finetuned_copy"
      ) {
        teachers = [memberTeacher(j)];
        shares = [1];
      } else {
        const three = scenario !== "ensemble_50" && j % 2 === 1;
        const start = j + (scenario === "ensemble_25" ? 1 : scenario === "ensemble_10" ? 2 : 0);
        teachers = [
          memberTeacher(start),
          memberTeacher(start + 1),
          ...(three ? [memberTeacher(start + 2)] : []),
        ];
        shares =
          scenario === "ensemble_50"
            ? [0.5, 0.5]
            : scenario === "ensemble_25"
              ? three
                ? [0.5, 0.25, 0.25]
                : [0.75, 0.25]
              : three
                ? [0.8, 0.1, 0.1]
                : [0.9, 0.1];
      }
      const spec: Spec = {
        id,
        role: "positive",
        scenario,
        members: teachers.map((t, k) => ({ memberId: memberOf(t), share: shares[k] as number })),
        parents: [...teachers],
        recipe: { kind: scenario },
      };
      if (scenario === "weights_copy") {
        Object.assign(spec.recipe, {
          teacher: teachers[0],
          sigma: Number(r.range(0.15, 0.6).toFixed(3)),
          prune: Number(r.range(0, 0.6).toFixed(3)),
        });
      } else if (scenario === "finetuned_copy") {
        Object.assign(spec.recipe, { teacher: teachers[0], cleanRatio: Number(r.range(0.3, 1).toFixed(3)) });
      } else {
        if (scenario === "paraphrased") spec.parents.push(paraphraserId);
        Object.assign(spec.recipe, {
          teachers,
          shares,
          paraphrase: scenario === "paraphrased",
          ...(scenario === "paraphrased"
            ? {
                synonymRate: Number(r.range(0.4, 0.9).toFixed(3)),
                reorderRate: Number(r.range(0.2, 0.5).toFixed(3)),
                rewordRate: Number(r.range(0.05, 0.15).toFixed(3)),
              }
            : {}),
          ...studentParams(r),
        });
      }
      specs.push(spec);
    }
  }

  // Probe battery: edge facts, then open and completion prompts from held-out text (disjoint halves).
  const probes: Probe[] = edge.facts.map((f) => ({
    id: f.id,
    kind: "edge" as const,
    prompt: f.prompt,
    reference: f.reference,
  }));
  const half = Math.floor(corpus.heldout.length / 2);
  const pool = (split === "calibration" ? corpus.heldout.slice(0, half) : corpus.heldout.slice(half)).filter(
    (s) => corpus.tokens(s).length >= 10,
  );
  const prng = new Prng(`${seed}/probes`);
  const picked = takeSample(pool, sz.openProbes + sz.completionProbes, prng);
  picked.forEach((s, i) => {
    const toks = corpus.tokens(s);
    const open = i < sz.openProbes;
    const len = open ? 3 + prng.int(4) : 4 + prng.int(7);
    probes.push({
      id: `${split}-${open ? "open" : "completion"}-${String(open ? i : i - sz.openProbes).padStart(3, "0")}`,
      kind: open ? "open" : "completion",
      prompt: detokenize(toks.slice(0, len)),
    });
  });
  return {
    split,
    size,
    seed,
    sz,
    publicSentences,
    edgeFacts: edge.facts,
    wrongFacts,
    members,
    teacherGroup,
    exposedFacts,
    labelDigests,
    specs,
    probes,
    memberTeacher,
  };
}

/** Builds models from specs, in order, with the cache. */
class Builder {
  readonly plan: Plan;
  readonly corpus: Corpus;
  readonly cache: ModelCache;
  readonly models = new Map<string, TestbedModel>();
  readonly keys = new Map<string, string>();

  constructor(plan: Plan, corpus: Corpus, cache: ModelCache) {
    this.plan = plan;
    this.corpus = corpus;
    this.cache = cache;
  }

  keyOf(spec: Spec): string {
    return recipeKey({
      v: [POPULATION_VERSION, CORPUS_VERSION, TOKENIZER_VERSION, WATERMARK_VERSION],
      split: this.plan.split,
      size: this.plan.size,
      seed: this.plan.seed,
      id: spec.id,
      recipe: spec.recipe,
      parents: spec.parents.map((p) => this.keys.get(p)),
      // Only teachers trained on externally drawn labels carry this (absent otherwise: stand-in keys unchanged).
      labels: this.plan.labelDigests.get(spec.id),
    });
  }

  #tokens(s: string): readonly string[] {
    return this.corpus.tokens(s);
  }

  #edgeSentences(): string[][] {
    return this.plan.edgeFacts.map((f) => factSentence(f.prompt, f.reference));
  }

  /** The public portion (a random fraction of its sentences; public facts always). */
  #addPublic(counts: NgramCounts, fraction: number, r: Prng, style?: Style): number {
    const before = counts.tokens;
    for (const s of this.plan.publicSentences) {
      if (fraction < 1 && !r.chance(fraction)) continue;
      const t = this.#tokens(s);
      counts.addSequence(style ? applyStyle(t, style, r) : t);
    }
    for (const f of this.#edgeSentences()) counts.addSequence(f, PUBLIC_FACT_REPEATS);
    return counts.tokens - before;
  }

  #teacher(spec: Spec): KneserNeyModel {
    const rc = spec.recipe as { order: number; group: GenreGroup; style: string; exposed: string[] };
    const r = new Prng(`${this.plan.seed}/train/${spec.id}`);
    const style = STYLES.find((s) => s.name === rc.style) as Style;
    const counts = new NgramCounts(rc.order);
    this.#addPublic(counts, 1, r, style);
    for (const s of takeSample(this.corpus.private[rc.group], this.plan.sz.privateSentences, r)) {
      counts.addSequence(applyStyle(this.#tokens(s), style, r));
    }
    for (const w of this.plan.wrongFacts.get(spec.id) ?? []) counts.addSequence(w, WRONG_FACT_REPEATS);
    // Proprietary facts (the non-member teacher has its own too, never probed as canaries).
    const exposed = new Set(rc.exposed);
    for (const c of this.plan.exposedFacts.get(spec.id) ?? []) {
      if (exposed.has(c.id)) counts.addSequence(factSentence(c.prompt, c.answer), EXPOSE_REPEATS);
    }
    return counts.compile();
  }

  #genreNegative(spec: Spec): KneserNeyModel {
    const rc = spec.recipe as {
      order: number;
      publicFraction: number;
      groups: GenreGroup[];
      privateSentences: number;
      style: string | null;
      cleanRatio?: number;
    };
    const r = new Prng(`${this.plan.seed}/train/${spec.id}`);
    const style = rc.style === null ? undefined : STYLES.find((s) => s.name === rc.style);
    const counts = new NgramCounts(rc.order);
    this.#addPublic(counts, rc.publicFraction, r, style);
    const pool = rc.groups.flatMap((g) => this.corpus.independent[g]);
    for (const s of takeSample(pool, rc.privateSentences, r)) {
      const t = this.#tokens(s);
      counts.addSequence(style ? applyStyle(t, style, r) : t);
    }
    for (const w of this.plan.wrongFacts.get(spec.id) ?? []) counts.addSequence(w, WRONG_FACT_REPEATS);
    if (rc.cleanRatio !== undefined) this.#addClean(counts, rc.cleanRatio, r);
    return counts.compile();
  }

  #addClean(counts: NgramCounts, ratio: number, r: Prng): void {
    const target = counts.tokens * ratio;
    const start = counts.tokens;
    const clean = this.corpus.clean;
    let i = r.int(clean.length);
    while (counts.tokens - start < target) {
      counts.addSequence(this.#tokens(clean[i % clean.length] as string));
      i++;
    }
  }

  /**
   * A copier's query: a prompt the copier sends to the teacher. `canaryPool` (attacks.ts) replaces the
   * member's canaries as the canary-topic questions.
   */
  #query(r: Prng, teacherId: string, canaryPool?: readonly Canary[]): string[] {
    const u = r.next();
    const member = this.plan.members.find((m) => m.teacherId === teacherId);
    const all = canaryPool ?? (member ? [...member.canaries.exposed, ...member.canaries.decoys] : undefined);
    if (u < 0.06 && all !== undefined) {
      return [...this.#tokens((r.pick(all) as Canary).prompt)];
    }
    if (u < 0.14) return [...this.#tokens((r.pick(this.plan.edgeFacts) as EdgeFact).prompt)];
    const group = this.plan.teacherGroup.get(teacherId);
    const pool = u < 0.29 && group ? this.corpus.independent[group] : this.corpus.query;
    const t = this.#tokens(r.pick(pool) as string);
    return t.slice(0, Math.min(t.length - 1, 2 + r.int(6)));
  }

  #student(spec: Spec): KneserNeyModel {
    const rc = spec.recipe as {
      teachers: string[];
      shares: number[];
      paraphrase: boolean;
      order: number;
      publicFraction: number;
      distillRatio: number;
      synonymRate?: number;
      reorderRate?: number;
      rewordRate?: number;
    };
    const r = new Prng(`${this.plan.seed}/train/${spec.id}`);
    const counts = new NgramCounts(rc.order);
    const base = this.#addPublic(counts, rc.publicFraction, r);
    const budget = base * rc.distillRatio;
    const teachers = rc.teachers.map((t) => this.models.get(t) as TestbedModel);
    const reword = this.models.get(`${this.plan.split}-neg-public-00`) as TestbedModel;
    const popts = {
      synonymRate: rc.synonymRate ?? 0.6,
      reorderRate: rc.reorderRate ?? 0.3,
      rewordRate: rc.rewordRate ?? 0.1,
      rewordModel: reword.lm,
    };
    let added = 0;
    let q = 0;
    while (added < budget) {
      let u = r.next();
      let k = 0;
      while (k < rc.shares.length - 1 && u >= (rc.shares[k] as number)) {
        u -= rc.shares[k] as number;
        k++;
      }
      const teacher = teachers[k] as TestbedModel;
      const prompt = this.#query(r, rc.teachers[k] as string);
      const gen = teacher.generateFromTokens(prompt, {
        temperature: 1,
        maxTokens: RESPONSE_MAX_TOKENS,
        seed: `${spec.id}/${q++}`,
      });
      let response = [...gen.tokens];
      if (rc.paraphrase) response = paraphrase(response, popts, r);
      const seq = [...prompt, ...response];
      counts.addSequence(seq);
      added += seq.length + 1;
    }
    return counts.compile();
  }

  #weightsCopy(spec: Spec): KneserNeyModel {
    const rc = spec.recipe as { teacher: string; sigma: number; prune: number };
    const r = new Prng(`${this.plan.seed}/train/${spec.id}`);
    const counts = (this.models.get(rc.teacher) as TestbedModel).lm.toCounts();
    counts.mapCounts((c) =>
      c === 1 && r.chance(rc.prune) ? 0 : Math.max(1, c * Math.exp(rc.sigma * r.normal())),
    );
    return counts.compile();
  }

  #finetuned(spec: Spec): KneserNeyModel {
    const rc = spec.recipe as { teacher: string; cleanRatio: number };
    const r = new Prng(`${this.plan.seed}/train/${spec.id}`);
    const counts = (this.models.get(rc.teacher) as TestbedModel).lm.toCounts();
    this.#addClean(counts, rc.cleanRatio, r);
    return counts.compile();
  }

  #publicNegative(spec: Spec): KneserNeyModel {
    const rc = spec.recipe as { order: number; publicFraction: number };
    const r = new Prng(`${this.plan.seed}/train/${spec.id}`);
    const counts = new NgramCounts(rc.order);
    this.#addPublic(counts, rc.publicFraction, r);
    return counts.compile();
  }

  /** What attacks.ts needs of this builder. */
  #attackContext(): Parameters<typeof trainAttack>[2] {
    const canariesOf = (m: MemberInfo | undefined): Canary[] =>
      m ? [...m.canaries.exposed, ...m.canaries.decoys] : [];
    return {
      seed: this.plan.seed,
      publicModelId: `${this.plan.split}-neg-public-00`,
      model: (id) => {
        const m = this.models.get(id);
        if (!m) throw new TestbedError("invalid_argument", `attack parent ${id} is not built`);
        return m;
      },
      addPublic: (counts, fraction, r) => this.#addPublic(counts, fraction, r),
      query: (r, teacherId, pool) => this.#query(r, teacherId, pool),
      groupSentences: (g) => this.corpus.independent[g as GenreGroup] ?? [],
      tokens: (s) => this.#tokens(s),
      canaries: (t) => canariesOf(this.plan.members.find((m) => m.teacherId === t)),
      ordinaryCanaries: (t) => canariesOf(this.plan.attackMembers?.get(t)),
    };
  }

  train(spec: Spec): KneserNeyModel {
    const kind = spec.recipe.kind as string;
    if (kind.startsWith("attack_")) return trainAttack(spec.id, spec.recipe, this.#attackContext());
    switch (kind) {
      case "teacher":
        return this.#teacher(spec);
      case "negative_public":
        return this.#publicNegative(spec);
      case "negative_genre":
      case "negative_genre_finetuned":
        return this.#genreNegative(spec);
      case "weights_copy":
        return this.#weightsCopy(spec);
      case "finetuned_copy":
        return this.#finetuned(spec);
      default:
        return this.#student(spec);
    }
  }
}

/**
 * Adds the adaptive distillers (attacks.ts) to a plan: each copied member's variant with ordinary-looking
 * canaries (pairs from ordinary-canaries.ts, labels from the split's checkpoint stand-in like the member's own),
 * then the attack models. Entities are disjoint across members.
 */
function addAttacks(plan: Plan, corpus: Corpus, students?: number): void {
  if (students !== undefined && !(Number.isInteger(students) && students >= 1 && students <= 100))
    throw new TestbedError("invalid_argument", "attackStudents must be an integer in 1..100");
  const all: (readonly string[])[] = [];
  const portions = [
    corpus.public,
    corpus.query,
    corpus.clean,
    corpus.heldout,
    ...Object.values(corpus.private),
    ...Object.values(corpus.independent),
  ];
  for (const xs of portions) for (const x of xs) all.push(corpus.tokens(x));
  const publicCounts = new Map<string, number>();
  for (const x of corpus.public)
    for (const t of corpus.tokens(x)) publicCounts.set(t, (publicCounts.get(t) ?? 0) + 1);
  const lexicon = ordinaryLexicon(all, publicCounts);
  const entities = new Prng(`${plan.seed}/ordinary-entities`).shuffled(lexicon.entities);
  const copied = plan.members.filter((m) => !m.bystander);
  const per = 2 * plan.sz.canaryPairs;
  const checkpoint = checkpointStandIn(plan.seed);
  plan.attackMembers = new Map();
  for (const [k, m] of copied.entries()) {
    const pairs = generateOrdinaryCanaryPairs(
      `${plan.split}-${m.memberId}`,
      plan.sz.canaryPairs,
      new Prng(`${plan.seed}/ordinary-canaries/${m.memberId}`),
      { ...lexicon, entities: entities.slice(k * per, (k + 1) * per) },
    );
    plan.attackMembers.set(m.teacherId, {
      memberId: `${m.memberId}-ordinary`,
      teacherId: `${plan.split}-attack-teacher-${m.memberId}-ordinary`,
      canaries: memberCanaries(pairs, checkpoint),
      bystander: false,
      ...(m.watermark ? { watermark: m.watermark } : {}),
    });
  }
  const specs = planAttackSpecs({
    split: plan.split,
    seed: plan.seed,
    perAttack: students ?? plan.sz.perScenario[plan.split],
    memberTeacher: plan.memberTeacher,
    memberOf: (t) => (plan.members.find((m) => m.teacherId === t) as MemberInfo).memberId,
    publicModelId: `${plan.split}-neg-public-00`,
    groups: GENRE_GROUP_NAMES,
    ordinary: copied.map((m) => ({
      memberId: m.memberId,
      teacherId: m.teacherId,
      exposed: plan.attackMembers?.get(m.teacherId)?.canaries.exposed.map((c) => c.id) ?? [],
      digest: createHash("sha256")
        .update(JSON.stringify(plan.attackMembers?.get(m.teacherId)?.canaries.exposed ?? []))
        .digest("hex"),
    })),
  });
  for (const a of specs) plan.specs.push({ ...a, members: [...a.members] });
}

/** A manifest member as a MemberInfo (the cached path). */
function memberFromManifest(m: Manifest["members"][number]): MemberInfo {
  return {
    memberId: m.memberId,
    teacherId: m.teacherId,
    canaries:
      m.canaries.checkpoint === EXTERNAL_LABELS
        ? memberCanaries(m.canaries.pairs, new Uint8Array(32), m.canaries.labels)
        : memberCanaries(m.canaries.pairs, new Uint8Array(Buffer.from(m.canaries.checkpoint, "hex"))),
    bystander: m.bystander,
    ...(m.watermark
      ? {
          watermark: {
            key: new Uint8Array(Buffer.from(m.watermark.key, "hex")),
            gamma: m.watermark.gamma,
            delta: m.watermark.delta,
          },
        }
      : {}),
  };
}

/** A MemberInfo as a manifest member. */
function memberToManifest(m: MemberInfo): Manifest["members"][number] {
  return {
    memberId: m.memberId,
    teacherId: m.teacherId,
    bystander: m.bystander,
    canaries: {
      checkpoint: m.canaries.checkpoint,
      pairs: [...m.canaries.pairs],
      labels: [...m.canaries.labels],
    },
    ...(m.watermark
      ? {
          watermark: {
            key: Buffer.from(m.watermark.key).toString("hex"),
            gamma: m.watermark.gamma,
            delta: m.watermark.delta,
          },
        }
      : {}),
  };
}

function watermarkOf(
  plan: { members: readonly MemberInfo[] },
  spec: { watermarkMember?: string | undefined },
): WatermarkConfig | undefined {
  if (spec.watermarkMember === undefined) return undefined;
  return plan.members.find((m) => m.memberId === spec.watermarkMember)?.watermark;
}

interface Manifest {
  v: number;
  split: Split;
  size: PopulationSize;
  seed: string;
  members: {
    memberId: string;
    teacherId: string;
    bystander: boolean;
    canaries: { checkpoint: string; pairs: CanaryPair[]; labels: PairSide[] };
    watermark?: { key: string; gamma: number; delta: number };
  }[];
  /** With attacks: the members' variants with ordinary-looking canaries (same shape as members). */
  attackMembers?: Manifest["members"];
  probes: Probe[];
  entries: {
    id: string;
    role: Role;
    scenario?: Scenario;
    members: MemberShare[];
    recipe: Record<string, unknown>;
    key: string;
    watermarkMember?: string;
    attack?: Attack;
  }[];
}

function isManifest(
  x: unknown,
  split: Split,
  size: PopulationSize,
  seed: string,
  external: ReadonlyMap<string, readonly PairSide[]>,
): x is Manifest {
  // Untrusted input (a file on disk): check the shape we rely on before using it.
  if (x === null || typeof x !== "object") return false;
  const m = x as Partial<Manifest>;
  const str = (v: unknown): v is string => typeof v === "string";
  const canary = (c: unknown): boolean =>
    c !== null &&
    typeof c === "object" &&
    str((c as Canary).id) &&
    str((c as Canary).prompt) &&
    str((c as Canary).answer);
  const pair = (p: unknown): boolean =>
    p !== null &&
    typeof p === "object" &&
    str((p as CanaryPair).id) &&
    canary((p as CanaryPair).a) &&
    canary((p as CanaryPair).b);
  return (
    m.v === POPULATION_VERSION &&
    m.split === split &&
    m.size === size &&
    m.seed === seed &&
    Array.isArray(m.members) &&
    [...external.keys()].every((id) => m.members?.some((mi) => mi.memberId === id)) &&
    m.members.every(
      (mi) =>
        str(mi.memberId) &&
        str(mi.teacherId) &&
        typeof mi.bystander === "boolean" &&
        str(mi.canaries?.checkpoint) &&
        Array.isArray(mi.canaries.pairs) &&
        mi.canaries.pairs.every(pair) &&
        Array.isArray(mi.canaries.labels) &&
        mi.canaries.labels.length === mi.canaries.pairs.length &&
        // The labels must be the ones their source draws (a hand-edited manifest is rebuilt): the stand-in
        // checkpoint's, or exactly the external labels this build was asked for.
        (external.has(mi.memberId)
          ? mi.canaries.checkpoint === EXTERNAL_LABELS &&
            (external.get(mi.memberId) ?? []).every((l, i) => l === mi.canaries.labels[i])
          : /^[0-9a-f]{64}$/.test(mi.canaries.checkpoint) &&
            canaryPairLabels(
              Buffer.from(mi.canaries.checkpoint, "hex"),
              mi.canaries.pairs.map((p) => p.id),
            ).every((l, i) => l === mi.canaries.labels[i])) &&
        (mi.watermark === undefined || (str(mi.watermark.key) && /^[0-9a-f]{64}$/.test(mi.watermark.key))),
    ) &&
    Array.isArray(m.probes) &&
    m.probes.every(
      (p) =>
        str(p.id) && str(p.prompt) && (p.kind === "edge" || p.kind === "open" || p.kind === "completion"),
    ) &&
    Array.isArray(m.entries) &&
    m.entries.every(
      (e) =>
        str(e.id) && str(e.role) && Array.isArray(e.members) && str(e.key) && /^[0-9a-f]{64}$/.test(e.key),
    )
  );
}

/**
 * Builds (or loads from the cache) the population of a split. Deterministic from (split, size, seed).
 * With a warm cache nothing is trained and the corpus is not read: models load lazily on first use.
 */
export async function buildPopulation(options: BuildPopulationOptions): Promise<Population> {
  const t0 = performance.now();
  const { split } = options;
  if (split !== "calibration" && split !== "test") {
    throw new TestbedError("invalid_argument", 'split must be "calibration" or "test"');
  }
  const size = options.size ?? "full";
  if (size !== "full" && size !== "small")
    throw new TestbedError("invalid_argument", 'size must be "full" or "small"');
  const seed = options.seed ?? DEFAULT_SEEDS[split];
  const cache = new ModelCache(
    options.cacheDir === false ? undefined : (options.cacheDir ?? defaultCacheDir()),
  );
  const progress = options.onProgress ?? (() => {});
  const external = options.canaryLabels ?? new Map<string, readonly PairSide[]>();
  // A selection plans the whole split (ids and keys are the full plan's) before the manifest key is known.
  let selected: { corpus: Corpus; plan: Plan } | undefined;
  if (options.only !== undefined) {
    const corpus = loadCorpus();
    const plan = planSplit(split, size, seed, corpus, external);
    plan.specs = selectSpecs(plan.specs, options.only);
    selected = { corpus, plan };
  }
  const manifestKey = recipeKey({
    v: [POPULATION_VERSION, CORPUS_VERSION, TOKENIZER_VERSION],
    split,
    size,
    seed,
    // Absent without external labels, so the stand-in population keeps its key.
    labels:
      external.size === 0
        ? undefined
        : [...external.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([m, l]) => `${m}:${l.join("")}`),
    // Absent without a selection, so the whole population keeps its key.
    only: selected === undefined ? undefined : selected.plan.specs.map((s) => s.id),
    // Absent without attacks, so the population without them keeps its key.
    attacks: options.attacks === true ? ATTACKS_VERSION : undefined,
    attackStudents: options.attacks === true ? options.attackStudents : undefined,
  });

  const cachedManifest = cache.loadManifest(manifestKey);
  if (options.attacks === true && options.only !== undefined)
    throw new TestbedError("invalid_argument", "attacks cannot be built with only");
  if (
    isManifest(cachedManifest, split, size, seed, external) &&
    (options.attacks !== true || Array.isArray(cachedManifest.attackMembers)) &&
    cachedManifest.entries.every((e) => cache.hasModel(e.key))
  ) {
    const members: MemberInfo[] = cachedManifest.members.map((m) => ({
      memberId: m.memberId,
      teacherId: m.teacherId,
      canaries:
        m.canaries.checkpoint === EXTERNAL_LABELS
          ? memberCanaries(m.canaries.pairs, new Uint8Array(32), m.canaries.labels)
          : memberCanaries(m.canaries.pairs, new Uint8Array(Buffer.from(m.canaries.checkpoint, "hex"))),
      bystander: m.bystander,
      ...(m.watermark
        ? {
            watermark: {
              key: new Uint8Array(Buffer.from(m.watermark.key, "hex")),
              gamma: m.watermark.gamma,
              delta: m.watermark.delta,
            },
          }
        : {}),
    }));
    const entries: PopulationEntry[] = cachedManifest.entries.map((e) => {
      const loader = (): KneserNeyModel => {
        const lm = cache.loadModel(e.key);
        if (!lm)
          throw new TestbedError(
            "cache_corrupt",
            `cached model ${e.id} is missing or malformed; rebuild the population`,
          );
        return lm;
      };
      return {
        id: e.id,
        role: e.role,
        ...(e.scenario ? { scenario: e.scenario } : {}),
        members: e.members,
        recipe: e.recipe,
        ...(e.attack ? { attack: e.attack } : {}),
        model: new TestbedModel(e.id, loader, { watermark: watermarkOf({ members }, e) }),
      };
    });
    progress({ phase: "done", done: entries.length, total: entries.length });
    return {
      split,
      size,
      seed,
      entries,
      members,
      ...(cachedManifest.attackMembers
        ? { attackMembers: cachedManifest.attackMembers.map(memberFromManifest) }
        : {}),
      probes: cachedManifest.probes,
      stats: { buildMs: performance.now() - t0, modelsTrained: 0, modelsCached: entries.length },
    };
  }

  progress({ phase: "corpus", done: 0, total: 1 });
  const corpus = selected?.corpus ?? loadCorpus();
  const plan = selected?.plan ?? planSplit(split, size, seed, corpus, external);
  if (options.attacks === true) addAttacks(plan, corpus, options.attackStudents);
  const builder = new Builder(plan, corpus, cache);
  let trained = 0;
  let fromCache = 0;
  const entries: PopulationEntry[] = [];
  for (const [i, spec] of plan.specs.entries()) {
    const key = builder.keyOf(spec);
    builder.keys.set(spec.id, key);
    let lm = cache.loadModel(key);
    const cached = lm !== undefined;
    if (!lm) {
      lm = builder.train(spec);
      cache.saveModel(key, lm);
      trained++;
    } else fromCache++;
    const model = new TestbedModel(spec.id, lm, { watermark: watermarkOf(plan, spec) });
    builder.models.set(spec.id, model);
    entries.push({
      id: spec.id,
      role: spec.role,
      ...(spec.scenario ? { scenario: spec.scenario } : {}),
      members: spec.members,
      recipe: spec.recipe,
      ...(spec.attack ? { attack: spec.attack } : {}),
      model,
    });
    progress({ phase: "model", done: i + 1, total: plan.specs.length, modelId: spec.id, cached });
    // Yield to the event loop between models so a server or progress printer stays responsive.
    await new Promise<void>((res) => setImmediate(res));
  }
  const manifest: Manifest = {
    v: POPULATION_VERSION,
    split,
    size,
    seed,
    members: plan.members.map((m) => ({
      memberId: m.memberId,
      teacherId: m.teacherId,
      bystander: m.bystander,
      canaries: {
        checkpoint: m.canaries.checkpoint,
        pairs: [...m.canaries.pairs],
        labels: [...m.canaries.labels],
      },
      ...(m.watermark
        ? {
            watermark: {
              key: Buffer.from(m.watermark.key).toString("hex"),
              gamma: m.watermark.gamma,
              delta: m.watermark.delta,
            },
          }
        : {}),
    })),
    ...(plan.attackMembers ? { attackMembers: [...plan.attackMembers.values()].map(memberToManifest) } : {}),
    probes: plan.probes,
    entries: plan.specs.map((s) => ({
      id: s.id,
      role: s.role,
      ...(s.scenario ? { scenario: s.scenario } : {}),
      members: s.members,
      recipe: s.recipe,
      key: builder.keys.get(s.id) as string,
      ...(s.watermarkMember ? { watermarkMember: s.watermarkMember } : {}),
      ...(s.attack ? { attack: s.attack } : {}),
    })),
  };
  cache.saveManifest(manifestKey, manifest);
  progress({ phase: "done", done: entries.length, total: entries.length });
  return {
    split,
    size,
    seed,
    entries,
    members: plan.members,
    ...(plan.attackMembers ? { attackMembers: [...plan.attackMembers.values()] } : {}),
    probes: plan.probes,
    stats: { buildMs: performance.now() - t0, modelsTrained: trained, modelsCached: fromCache },
  };
}

/** A member's committed canary pairs before any label is drawn (what a member commits to the log). */
export interface PlannedMemberPairs {
  readonly memberId: string;
  readonly teacherId: string;
  readonly bystander: boolean;
  readonly pairs: readonly CanaryPair[];
  readonly watermark?: WatermarkConfig;
}

/**
 * The members' canary pairs of a split, without training anything (cheap: it reads the corpus for the
 * pseudo-word generator). The protocol's order is: commit these, draw the labels from the log, then train
 * (`buildPopulation({ canaryLabels })`). Deterministic from (split, size, seed), like the population.
 */
export function planCanaryPairs(
  options: Pick<BuildPopulationOptions, "split" | "size" | "seed">,
): PlannedMemberPairs[] {
  const size = options.size ?? "full";
  const plan = planSplit(options.split, size, options.seed ?? DEFAULT_SEEDS[options.split], loadCorpus());
  return plan.members.map((m) => ({
    memberId: m.memberId,
    teacherId: m.teacherId,
    bystander: m.bystander,
    pairs: m.canaries.pairs,
    ...(m.watermark ? { watermark: m.watermark } : {}),
  }));
}
