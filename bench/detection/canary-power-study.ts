/**
 * How lineage-policy/3 was chosen (docs/specs/verdict.md): the CALIBRATION split's canary pairs scored in
 * process, every (model, member) pair, comparing the paired canary tests at the policy's alpha. It refuses
 * the test split: no design decision looks at it.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/canary-power-study.ts [--comparisons N]
 *
 * Per item, as compare() sees it over HTTP: the greedy chat answer with top-20 alternatives (hit rule:
 * canaryResponseHit) and the mean log-probability of the answer's tokens given the prompt (the testbed's
 * echo scoring). Per (model, member): exact McNemar on the hits, and the exact signed-rank test on the
 * score differences (the same counts scoreCanaryPairs produces). Prints, per scenario and for the nulls,
 * how many reach adjusted p <= alpha under policy 2 (McNemar alone) and policy 3 (both tests), at N
 * comparisons (default 10, the detection bench's members per suspect).
 */
import { DEFAULT_VERDICT_POLICY, deriveVerdict, VERDICT_POLICY_3 } from "@lineage/fingerprint";
import { buildPopulation } from "@lineage/testbed";
import { canaryCounts } from "./study-kit.js";

const argv = process.argv.slice(2);
if (argv.includes("test")) {
  process.stderr.write(
    "canary-power-study: the test split is never studied (issue 7, figures nobody tuned to)\n",
  );
  process.exit(2);
}
const at = argv.indexOf("--comparisons");
const comparisons = at >= 0 ? Number(argv[at + 1]) : 10;
if (!(Number.isInteger(comparisons) && comparisons >= 1 && comparisons <= 1000)) {
  process.stderr.write("canary-power-study: --comparisons must be an integer in 1..1000\n");
  process.exit(2);
}

const pop = await buildPopulation({ split: "calibration", size: "full" });
const rows = new Map<string, { n: number; p2: number; p3: number; ranksAlone: number }>();
const row = (k: string) => {
  let r = rows.get(k);
  if (!r) {
    r = { n: 0, p2: 0, p3: 0, ranksAlone: 0 };
    rows.set(k, r);
  }
  return r;
};
for (const e of pop.entries) {
  for (const m of pop.members) {
    const counts = canaryCounts(e, m);
    const watermark = m.watermark
      ? { gamma: m.watermark.gamma, selected_scored: 0, selected_green: 0, all_scored: 0, all_green: 0 }
      : undefined;
    const ev = { canary: counts, ...(watermark ? { watermark } : {}), comparisons };
    const derived = e.members.some((x) => x.memberId === m.memberId);
    const r = row(derived ? (e.scenario ?? `${e.role} (own member)`) : "null");
    r.n++;
    const { sequence: _s, scored_pairs: _p, rank_signs: _r, ...plain } = counts;
    if (deriveVerdict({ ...ev, canary: plain }, DEFAULT_VERDICT_POLICY).verdict === "LIKELY_DERIVED") r.p2++;
    const v3 = deriveVerdict(ev, VERDICT_POLICY_3);
    if (v3.verdict === "LIKELY_DERIVED") r.p3++;
    if (v3.backed_by === "canary_ranks") r.ranksAlone++;
  }
}
process.stdout.write(
  `calibration split, ${comparisons} comparisons (watermark counted as bound but not evaluated)\n`,
);
process.stdout.write("group              n   policy 2 (McNemar)   policy 3 (+ ranks)   decided by ranks\n");
for (const [k, r] of [...rows].sort(([a], [b]) => (a < b ? -1 : 1))) {
  process.stdout.write(
    `${k.padEnd(16)} ${String(r.n).padStart(4)}   ${String(r.p2).padStart(18)}   ${String(r.p3).padStart(18)}   ${String(r.ranksAlone).padStart(16)}\n`,
  );
}
