/**
 * Command-line arguments of `npm run bench:detection` (untrusted: every value is checked and bounded).
 *
 *   --json FILE          also write the JSON report to FILE
 *   --size full|small    population size (default full; small is a quick smoke run)
 *   --panel N            panel models per comparison (default 6, 1..20)
 *   --concurrency N      HTTP requests in flight (default 8, 1..64)
 *   --foreign test|both|none   which splits also compare against the other split's copied members (default
 *                        test); reported apart as foreign nulls, never pooled into the ordinary count
 *   --cache-dir DIR      testbed model cache (default <repo>/.cache/testbed); an empty DIR measures a cold run
 *   --panel-select closest|rotation   panel = the negatives closest to the member's reference (default) or a
 *                        member-specific rotation (plan.ts)
 *   --scenarios LIST     comma-separated scenarios whose positives are compared (default all); nulls are all
 *                        kept. For iterating: the per-scenario figures of a subset run are not the headline
 *   --attacks LIST       adaptive distillers reported in by_attack (comma-separated, `all` (default) or `none`;
 *                        libs/testbed attacks.ts); with any attack, every positive of the --scenarios is also
 *                        served through the subword tokenizer and reported with the log-probability rule on/off
 *   --attacks-only       run only the attack rows (no main comparisons, watermark queries or null checks): the
 *                        JSON has by_attack, setup and timings
 *   --attack-splits calibration|test|both   splits whose attack rows run (default both)
 *   --attack-students N  students per attack (1..20; default the size's positives per scenario)
 *   --lsh-only           run only steps 1-4 (populations, probing, LSH retrieval) and report the LSH section
 *                        (no comparisons, no attack rows: --attacks is ignored); minutes instead of an hour
 */
/** The attacks of libs/testbed attacks.ts (ATTACKS), spelled here so that parsing needs no testbed. */
export const ATTACK_NAMES = [
  "sampling",
  "paraphrase_model",
  "canary_filter",
  "canary_filter_ordinary",
  "watermark_scrub",
  "topic_slice",
  "sibling",
] as const;
const SCENARIO_NAMES = [
  "direct",
  "paraphrased",
  "ensemble_50",
  "ensemble_25",
  "ensemble_10",
  "weights_copy",
  "finetuned_copy",
] as const;
export interface BenchArgs {
  readonly json?: string;
  readonly size: "full" | "small";
  readonly panel: number;
  readonly concurrency: number;
  readonly foreign: "test" | "both" | "none";
  readonly panelSelect: "closest" | "rotation";
  readonly cacheDir?: string;
  /** Absent: every scenario. */
  readonly scenarios?: readonly string[];
  /** Attacks of by_attack (empty: none). */
  readonly attacks: readonly string[];
  readonly attacksOnly: boolean;
  /** Steps 1-4 only: the LSH section. */
  readonly lshOnly: boolean;
  readonly attackSplits: readonly ("calibration" | "test")[];
  /** Absent: the population's default. */
  readonly attackStudents?: number;
}

/** Parses argv (without node and the script); throws a RangeError naming the bad argument. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  let json: string | undefined;
  let size: BenchArgs["size"] = "full";
  let panel = 6;
  let concurrency = 8;
  let foreign: BenchArgs["foreign"] = "test";
  let panelSelect: BenchArgs["panelSelect"] = "closest";
  let cacheDir: string | undefined;
  let scenarios: string[] | undefined;
  let attacks: string[] = [...ATTACK_NAMES];
  let attacksOnly = false;
  let lshOnly = false;
  let attackSplits: ("calibration" | "test")[] = ["calibration", "test"];
  let attackStudents: number | undefined;
  const value = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new RangeError(`${name} needs a value`);
    return v;
  };
  const int = (v: string, name: string, lo: number, hi: number): number => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= lo && n <= hi))
      throw new RangeError(`${name} must be an integer in ${lo}..${hi}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    switch (a) {
      case "--json": {
        json = value(i++, a);
        if (json.length > 4096) throw new RangeError("--json path is too long");
        break;
      }
      case "--size": {
        const v = value(i++, a);
        if (v !== "full" && v !== "small") throw new RangeError("--size must be full or small");
        size = v;
        break;
      }
      case "--panel":
        panel = int(value(i++, a), a, 1, 20);
        break;
      case "--concurrency":
        concurrency = int(value(i++, a), a, 1, 64);
        break;
      case "--foreign": {
        const v = value(i++, a);
        if (v !== "test" && v !== "both" && v !== "none")
          throw new RangeError("--foreign must be test, both or none");
        foreign = v;
        break;
      }
      case "--cache-dir": {
        cacheDir = value(i++, a);
        if (cacheDir.length > 4096) throw new RangeError("--cache-dir path is too long");
        break;
      }
      case "--panel-select": {
        const v = value(i++, a);
        if (v !== "closest" && v !== "rotation")
          throw new RangeError("--panel-select must be closest or rotation");
        panelSelect = v;
        break;
      }
      case "--scenarios": {
        scenarios = value(i++, a).split(",");
        const bad = scenarios.find((x) => !(SCENARIO_NAMES as readonly string[]).includes(x));
        if (bad !== undefined)
          throw new RangeError(
            `--scenarios: unknown scenario ${JSON.stringify(bad.slice(0, 40))} (known: ${SCENARIO_NAMES.join(", ")})`,
          );
        break;
      }
      case "--attacks": {
        const v = value(i++, a);
        attacks = v === "all" ? [...ATTACK_NAMES] : v === "none" ? [] : v.split(",");
        const bad = attacks.find((x) => !(ATTACK_NAMES as readonly string[]).includes(x));
        if (bad !== undefined)
          throw new RangeError(
            `--attacks: unknown attack ${JSON.stringify(bad.slice(0, 40))} (known: ${ATTACK_NAMES.join(", ")}, all, none)`,
          );
        break;
      }
      case "--attack-students":
        attackStudents = int(value(i++, a), a, 1, 20);
        break;
      case "--attacks-only":
        attacksOnly = true;
        break;
      case "--lsh-only":
        lshOnly = true;
        break;
      case "--attack-splits": {
        const v = value(i++, a);
        if (v !== "calibration" && v !== "test" && v !== "both")
          throw new RangeError("--attack-splits must be calibration, test or both");
        attackSplits = v === "both" ? ["calibration", "test"] : [v];
        break;
      }
      default:
        throw new RangeError(`unknown argument ${JSON.stringify(a.slice(0, 40))}`);
    }
  }
  if (attacksOnly && attacks.length === 0) throw new RangeError("--attacks-only needs at least one attack");
  if (attacksOnly && lshOnly) throw new RangeError("--attacks-only and --lsh-only exclude each other");
  return {
    ...(json !== undefined ? { json } : {}),
    size,
    panel,
    concurrency,
    foreign,
    panelSelect,
    ...(cacheDir !== undefined ? { cacheDir } : {}),
    ...(scenarios !== undefined ? { scenarios } : {}),
    // --lsh-only compares nothing: no attack model is built or served.
    attacks: lshOnly ? [] : attacks,
    attacksOnly,
    lshOnly,
    attackSplits,
    ...(attackStudents !== undefined ? { attackStudents } : {}),
  };
}
