/**
 * Adaptive distillers (issue 11, "An adaptive distiller"): copiers who know how Lineage works and distill a
 * member's teacher while trying to shed the evidence. Each attack is a single-teacher distillation like the
 * population's `direct` scenario (same query mix, public portion, order and budget draws) with one change:
 *
 *   sampling                the teacher's API is sampled with a per-query temperature (0.5–1.5), top-p
 *                           (0.7–1) and seed, instead of its default (temperature 1)
 *   paraphrase_model        every answer rewritten by an independent public-only model before training:
 *                           synonyms 90%, clause reordering 50%, rewording of 30–50% of the spans
 *   canary_filter           queries and answers that look like canaries are dropped (canary-filter.ts)
 *   canary_filter_ordinary  the same filter against a member whose teacher also carries canaries that look
 *                           like ordinary queries (ordinary-canaries.ts): does canary generation survive it?
 *   watermark_scrub         tokens of the answers that a public-only model finds unlikely (p < 0.05: where a
 *                           green-list boost shows) are resampled from that public model, 90% of them
 *   topic_slice             queries drawn from one genre group's text only: no public-fact or canary-topic
 *                           questions at all
 *   sibling                 two students of the same teacher; one is published so that it sits in the panels
 *                           the other is compared against (bench: the panel's closest slot)
 *
 * Every attack model has its own cache key (its recipe names the attack and ATTACKS_VERSION); the population's
 * other models are unchanged by them. Randomness comes from the split seed and the model id only.
 */
import { greenSeed, isGreenHashed, tokenHash32 } from "@lineage/fingerprint";
import { CanaryFilter } from "./canary-filter.js";
import { type Canary, factSentence } from "./facts.js";
import { BOS, EOS_ID, type KneserNeyModel, NgramCounts } from "./kneser-ney.js";
import { paraphrase } from "./paraphrase.js";
import { Prng } from "./prng.js";
import { TestbedError } from "./testbed-error.js";
import type { TestbedModel } from "./testbed-model.js";

/** The attacks, in report order. */
export const ATTACKS = [
  "sampling",
  "paraphrase_model",
  "canary_filter",
  "canary_filter_ordinary",
  "watermark_scrub",
  "topic_slice",
  "sibling",
] as const;
export type Attack = (typeof ATTACKS)[number];

/** Bump on any change to how attack models are built (part of their cache keys only). */
export const ATTACKS_VERSION = 1;

/** Answers the copier asks for, at most (as the population's students). */
const RESPONSE_MAX_TOKENS = 40;
/** Times an exposed canary is repeated in a teacher's training data (as population.ts EXPOSE_REPEATS). */
const EXPOSE_REPEATS = 4;
/** The scrubber's threshold and rate (chosen on the calibration split). */
export const SCRUB_THRESHOLD = 0.05;
export const SCRUB_RATE = 0.9;

/**
 * One sample from a watermarking teacher's API with temperature and top-p, as a copier can set them per query:
 * at each step the candidates' log-probabilities divided by the temperature, plus the teacher's green-list
 * boost (applied by the teacher's sampler, whatever the API settings), then the smallest set of candidates
 * whose probability reaches `topP`. Returns the answer's tokens (without the end of sentence).
 */
export function sampleWithTopP(
  model: TestbedModel,
  prompt: readonly string[],
  opts: {
    readonly temperature: number;
    readonly topP: number;
    readonly maxTokens: number;
    readonly rng: Prng;
  },
): string[] {
  const { temperature, topP, maxTokens, rng } = opts;
  if (!(temperature > 0 && temperature <= 2))
    throw new TestbedError("invalid_argument", "temperature must be in (0, 2]");
  if (!(topP > 0 && topP <= 1)) throw new TestbedError("invalid_argument", "topP must be in (0, 1]");
  const lm = model.lm;
  const wm = model.watermark;
  const ctx = model.contextFor(prompt);
  const out: string[] = [];
  while (out.length < maxTokens) {
    const cands = lm.topLogprobsOnPath(lm.path(ctx), 10_000);
    const prev = ctx.at(-1);
    const seed = wm
      ? greenSeed(wm.key, prev === undefined || prev <= 0 ? BOS : (lm.vocab[prev] as string))
      : 0;
    const logits = cands.map((c) => {
      const boost =
        wm && c.id !== EOS_ID && isGreenHashed(seed, tokenHash32(lm.vocab[c.id] as string), wm.gamma)
          ? wm.delta
          : 0;
      return c.logprob / temperature + boost;
    });
    const max = Math.max(...logits);
    const weights = logits.map((l) => Math.exp(l - max));
    const order = weights
      .map((_, i) => i)
      .sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b);
    const total = weights.reduce((a, b) => a + b, 0);
    const kept: number[] = [];
    let mass = 0;
    for (const i of order) {
      kept.push(i);
      mass += weights[i] as number;
      if (mass >= topP * total) break;
    }
    let u = rng.next() * mass;
    let pick = kept[kept.length - 1] as number;
    for (const i of kept) {
      u -= weights[i] as number;
      if (u < 0) {
        pick = i;
        break;
      }
    }
    const id = (cands[pick] as { id: number }).id;
    if (id === EOS_ID) break;
    out.push(lm.vocab[id] as string);
    ctx.push(id);
    if (ctx.length > lm.order - 1) ctx.shift();
  }
  return out;
}

/**
 * Watermark scrubbing without the key: each answer token that the public model knows, made of letters, and
 * finds unlikely after what precedes it (p < `threshold`) — where a green-list boost lifted an unusual token —
 * is replaced, with probability `rate`, by a sample of the public model in that context. Tokens the public
 * model does not know (names, codes) are kept, as a paraphraser keeps them.
 */
export function scrubLikelyGreen(
  prompt: readonly string[],
  answer: readonly string[],
  publicLm: KneserNeyModel,
  opts: { readonly threshold: number; readonly rate: number },
  rng: Prng,
): string[] {
  const out: string[] = [];
  const ids = publicLm.ids;
  for (const t of answer) {
    const context = [...prompt, ...out];
    if (
      ids.has(t) &&
      /\p{L}/u.test(t) &&
      publicLm.prob(context, t) < opts.threshold &&
      rng.chance(opts.rate)
    ) {
      const { ids: gen } = publicLm.sampleIds(publicLm.contextIds(context), {
        temperature: 1,
        maxTokens: 1,
        rng,
      });
      const g = gen[0];
      out.push(g === undefined ? t : (publicLm.vocab[g] as string));
    } else out.push(t);
  }
  return out;
}

/** A planned attack model (population.ts turns these into its specs). */
export interface AttackSpec {
  readonly id: string;
  readonly role: "positive" | "member_teacher";
  readonly attack: Attack;
  readonly members: { readonly memberId: string; readonly share: number }[];
  readonly parents: string[];
  readonly recipe: Record<string, unknown>;
  /** The member whose key the model samples with (variant teachers only). */
  readonly watermarkMember?: string;
}

/** What planning the attacks needs from the population's plan. */
export interface AttackPlanInput {
  readonly split: string;
  readonly seed: string;
  /** Attack students per attack. */
  readonly perAttack: number;
  /** The copied members' teachers in the population's rotation (index j -> teacher id). */
  readonly memberTeacher: (j: number) => string;
  readonly memberOf: (teacherId: string) => string;
  /** The rewording model of paraphrases and the scrubber's public model. */
  readonly publicModelId: string;
  /** Genre groups (topic slices). */
  readonly groups: readonly string[];
  /** Per copied member: its ordinary-looking canaries' exposed ids (variant teachers). */
  readonly ordinary: readonly {
    readonly memberId: string;
    readonly teacherId: string;
    readonly exposed: readonly string[];
    /** Digest of the exposed items' text (so a change of the generator reaches the cache key). */
    readonly digest: string;
  }[];
}

/** The id of a copied member's variant with ordinary-looking canaries (its teacher and its member id). */
export const ordinaryVariantId = (memberId: string): string => `${memberId}-ordinary`;

/** Plans the attack models of a split (cheap). */
export function planAttackSpecs(input: AttackPlanInput): AttackSpec[] {
  const specs: AttackSpec[] = [];
  const variantTeacher = new Map<string, string>();
  for (const o of input.ordinary) {
    const id = `${input.split}-attack-teacher-${ordinaryVariantId(o.memberId)}`;
    variantTeacher.set(o.teacherId, id);
    specs.push({
      id,
      role: "member_teacher",
      attack: "canary_filter_ordinary",
      members: [{ memberId: ordinaryVariantId(o.memberId), share: 1 }],
      parents: [o.teacherId],
      recipe: {
        kind: "attack_teacher_ordinary",
        v: ATTACKS_VERSION,
        teacher: o.teacherId,
        exposed: [...o.exposed],
        digest: o.digest,
      },
      watermarkMember: o.memberId,
    });
  }
  for (const attack of ATTACKS) {
    for (let j = 0; j < input.perAttack; j++) {
      const r = new Prng(`${input.seed}/attack/${attack}/${j}`);
      const base = input.memberTeacher(j);
      const memberId = input.memberOf(base);
      const teacher = attack === "canary_filter_ordinary" ? variantTeacher.get(base) : base;
      if (teacher === undefined) throw new TestbedError("invalid_argument", `no ordinary variant of ${base}`);
      const params = () => ({
        order: r.chance(0.3) ? 4 : 3,
        publicFraction: Number(r.range(0.8, 1).toFixed(3)),
        distillRatio: Number(r.range(0.3, 0.5).toFixed(3)),
      });
      const extra: Record<string, unknown> =
        attack === "sampling"
          ? { temperature: [0.5, 1.5], topP: [0.7, 1] }
          : attack === "paraphrase_model"
            ? { synonymRate: 0.9, reorderRate: 0.5, rewordRate: Number(r.range(0.3, 0.5).toFixed(3)) }
            : attack === "canary_filter" || attack === "canary_filter_ordinary"
              ? { filter: true }
              : attack === "watermark_scrub"
                ? { scrubThreshold: SCRUB_THRESHOLD, scrubRate: SCRUB_RATE }
                : attack === "topic_slice"
                  ? { slice: r.pick(input.groups) }
                  : {};
      const id = `${input.split}-attack-${attack.replace(/_/g, "-")}-${String(j).padStart(2, "0")}`;
      const member = attack === "canary_filter_ordinary" ? ordinaryVariantId(memberId) : memberId;
      const make = (sid: string, sibling?: "suspect" | "published"): AttackSpec => ({
        id: sid,
        role: "positive",
        attack,
        members: [{ memberId: member, share: 1 }],
        parents: [teacher, input.publicModelId],
        recipe: {
          kind: `attack_${attack}`,
          v: ATTACKS_VERSION,
          teachers: [teacher],
          canaryTeacher: base,
          shares: [1],
          ...params(),
          ...extra,
          ...(sibling ? { sibling } : {}),
        },
      });
      if (attack === "sibling") {
        specs.push(make(id, "suspect"), make(`${id}-published`, "published"));
      } else specs.push(make(id));
    }
  }
  return specs;
}

/** What training an attack model needs from the population builder. */
export interface AttackTrainContext {
  readonly seed: string;
  /** The public-only model (paraphraser, scrubber, the filter's dictionary). */
  readonly publicModelId: string;
  /** A built model of this split (parents are built first). */
  model(id: string): TestbedModel;
  /** Adds the public portion (a fraction of its sentences, public facts always); returns tokens added. */
  addPublic(counts: NgramCounts, fraction: number, r: Prng): number;
  /** The population's copier query for a teacher, with an optional canary pool in place of its member's. */
  query(r: Prng, teacherId: string, canaryPool?: readonly Canary[]): string[];
  /** Tokenized sentences of a genre group's independent text (topic slices). */
  groupSentences(group: string): readonly string[];
  tokens(sentence: string): readonly string[];
  /** A member's canaries (both arms) by its teacher id, and the ordinary-looking ones of a variant teacher. */
  canaries(teacherId: string): readonly Canary[];
  ordinaryCanaries(teacherId: string): readonly Canary[];
}

/** Trains an attack model from its recipe. */
export function trainAttack(
  id: string,
  recipe: Readonly<Record<string, unknown>>,
  ctx: AttackTrainContext,
): KneserNeyModel {
  const r = new Prng(`${ctx.seed}/train/${id}`);
  if (recipe.kind === "attack_teacher_ordinary") {
    const rc = recipe as { teacher: string; exposed: string[] };
    const counts = ctx.model(rc.teacher).lm.toCounts();
    const exposed = new Set(rc.exposed);
    for (const c of ctx.ordinaryCanaries(rc.teacher)) {
      if (exposed.has(c.id)) counts.addSequence(factSentence(c.prompt, c.answer), EXPOSE_REPEATS);
    }
    return counts.compile();
  }
  const rc = recipe as {
    kind: string;
    teachers: string[];
    canaryTeacher: string;
    order: number;
    publicFraction: number;
    distillRatio: number;
    temperature?: [number, number];
    topP?: [number, number];
    synonymRate?: number;
    reorderRate?: number;
    rewordRate?: number;
    filter?: boolean;
    scrubThreshold?: number;
    scrubRate?: number;
    slice?: string;
  };
  const attack = rc.kind.slice("attack_".length) as Attack;
  if (!(ATTACKS as readonly string[]).includes(attack))
    throw new TestbedError("invalid_argument", `unknown attack ${rc.kind}`);
  const counts = new NgramCounts(rc.order);
  const base = ctx.addPublic(counts, rc.publicFraction, r);
  const budget = base * rc.distillRatio;
  const teacher = ctx.model(rc.teachers[0] as string);
  const publicLm = ctx.model(ctx.publicModelId).lm;
  const filter = rc.filter ? new CanaryFilter(new Set(publicLm.vocab)) : undefined;
  const pool =
    attack === "canary_filter_ordinary"
      ? [...ctx.canaries(rc.canaryTeacher), ...ctx.ordinaryCanaries(rc.canaryTeacher)]
      : undefined;
  const slice = rc.slice === undefined ? undefined : ctx.groupSentences(rc.slice);
  let added = 0;
  let q = 0;
  // A filter that drops nearly everything must not loop forever: the copier gives up after this many queries.
  const maxQueries = Math.ceil(budget / 2) * 20;
  while (added < budget && q < maxQueries) {
    let prompt: string[];
    if (slice) {
      const t = ctx.tokens(r.pick(slice) as string);
      prompt = t.slice(0, Math.min(t.length - 1, 2 + r.int(6)));
    } else prompt = ctx.query(r, rc.canaryTeacher, pool);
    const seed = `${id}/${q++}`;
    let answer: string[];
    if (rc.temperature && rc.topP) {
      answer = sampleWithTopP(teacher, prompt, {
        temperature: r.range(rc.temperature[0], rc.temperature[1]),
        topP: r.range(rc.topP[0], rc.topP[1]),
        maxTokens: RESPONSE_MAX_TOKENS,
        rng: new Prng(`${seed}/api-seed/${r.nextUint32()}`),
      });
    } else {
      answer = [
        ...teacher.generateFromTokens(prompt, { temperature: 1, maxTokens: RESPONSE_MAX_TOKENS, seed })
          .tokens,
      ];
    }
    if (rc.synonymRate !== undefined) {
      answer = paraphrase(
        answer,
        {
          synonymRate: rc.synonymRate,
          reorderRate: rc.reorderRate ?? 0,
          rewordRate: rc.rewordRate ?? 0,
          rewordModel: publicLm,
        },
        r,
      );
    }
    if (rc.scrubThreshold !== undefined) {
      answer = scrubLikelyGreen(
        prompt,
        answer,
        publicLm,
        { threshold: rc.scrubThreshold, rate: rc.scrubRate ?? 1 },
        r,
      );
    }
    if (filter && !filter.keeps(prompt, answer)) continue;
    const seq = [...prompt, ...answer];
    counts.addSequence(seq);
    added += seq.length + 1;
  }
  return counts.compile();
}
