/**
 * `lineage demo`: the alliance end to end on the REAL services, in one process on the embedded default
 * (issue 12, "The demo"; the story in demo/story.ts): a hub — the runtime `lineage hub serve` runs — and three
 * member nodes — the runtime `lineage member serve` runs —, each on its own embedded database and key, talking
 * over their gRPC APIs on 127.0.0.1 and the in-process bus; testbed models served over HTTP; releases scanned
 * from a registry feed; attestations logged; an auditor verifying bundles with only the hub's verifier key.
 * Exit 0 only if the story happened (every copy caught, the ensemble a shared violation, the independent model
 * not accused, every attestation audited, the log consistent); otherwise 1, naming what failed.
 */
import { setMaxListeners } from "node:events";
import { mkdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { CliError, EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { DemoInterrupted } from "../demo/progress.js";
import { type DemoResult, runDemoStory } from "../demo/story.js";
import { choiceOpt, emit, stringOpt } from "../option-values.js";

/** What each size can and cannot show (printed before the run). */
const SIZE_NOTES = {
  small:
    "--size small: fast (the test runs it), and it shows the whole machinery — enrolment, canary commitments, " +
    "protection, scans, sessions over gRPC, logged attestations, the audit — but it cannot show the whole story: " +
    "each member commits 12 canary pairs, so the paired canary test alone (best p-value 2^-12, about 2.4e-4) never " +
    "reaches the policy's alpha (1e-6); the extra watermark queries may catch member A's distillations, not its " +
    "weights copy (stolen weights sample without A's watermark), and the ensemble is not expected to become a " +
    "shared violation. What it misses is marked MISS in the table, and the demo exits 1. Run the full size.",
  full:
    "--size full: 48 canary pairs per member, teachers on thousands of sentences; the watermarking members' " +
    "nodes add the protocol's 500 extra watermark queries to each session. It builds only the testbed models " +
    "the story needs (13): each run trains the 7 that depend on the canary labels its log draws (the members' " +
    "teachers and the 4 copies); the others come from the cache after the first run.",
} as const;

function table(r: DemoResult): string {
  const w = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
  const lines = [
    "",
    `${w("release", 31)} ${w("truth", 22)} ${w("member", 14)} ${w("verdict", 15)} ${w("p-value", 8)} ${w("backed by", 16)} ${w("attestation", 11)} ${w("audit", 9)} outcome`,
    ...r.rows.map(
      (x) =>
        `${w(x.release, 31)} ${w(x.truth, 22)} ${w(x.member, 14)} ${w(x.verdict, 15)} ${w(x.p_value === null ? "-" : x.p_value.toExponential(1), 8)} ${w(x.backed_by ?? "-", 16)} ${w(x.log_index >= 0 ? `#${x.log_index}` : "-", 11)} ${w(x.audit, 9)} ${x.outcome === "ok" ? "ok" : `<- ${x.outcome}`}`,
    ),
    "",
  ];
  for (const s of r.shared_violations)
    lines.push(`SHARED VIOLATION: ${s.release} — shared violation of ${s.members.join(" and ")}`);
  const misses = r.rows.filter((x) => x.outcome === "MISS").length;
  const falseAcc = r.rows.filter((x) => x.outcome === "FALSE ACCUSATION").length;
  lines.push(
    `${r.rows.filter((x) => x.verdict === "LIKELY_DERIVED").length} LIKELY_DERIVED; ${misses} miss(es); ${falseAcc} false accusation(s); ${r.shared_violations.length} shared violation(s); ${r.audit.verified}/${r.audit.bundles} attestations audited; log ${r.audit.consistency}; ${r.seconds}s`,
    "",
    "The story:",
    ...r.checks.map((c) => `  [${c.ok ? "ok" : "FAILED"}] ${c.check}: ${c.detail}`),
    "",
    `Left in ${r.out_dir}: bundles/ (one per attestation), disclosure/ (sealed), the keys and node configs.`,
    "Audit the bundles yourself (the hub has stopped, so offline; with a running hub use --hub ADDR instead):",
    `  for f in ${r.out_dir}/bundles/*.json; do lineage audit verify "$f" --log-key '${r.hub.verifier_key}' --offline; done`,
  );
  if (r.disclosure !== null)
    lines.push(
      `The disclosure (${r.disclosure.pairs} pairs of session ${r.disclosure.session_id}) opens with the auditor's key while the suspect is reachable:`,
      `  lineage audit disclosure ${r.disclosure.file} --key ${r.disclosure.key_file} --log-key '${r.hub.verifier_key}'`,
    );
  lines.push(
    r.story_ok
      ? "The story happened."
      : `The story did NOT happen: ${r.checks
          .filter((c) => !c.ok)
          .map((c) => c.check)
          .join("; ")}.`,
  );
  return lines.join("\n");
}

export const demo: Command = {
  name: "demo",
  summary: "Run the alliance on the real services in one process: a hub, three member nodes, an auditor.",
  description:
    "Starts a hub and three member nodes (embedded databases, gRPC on 127.0.0.1, the in-process bus), enrols\n" +
    "the members, commits their canary pairs (the log draws which item of each pair is exposed), trains the\n" +
    "testbed's models on the exposed items and serves them over HTTP, protects the members' models, releases\n" +
    "copies (plain, paraphrased, ensemble of two members, weights) and an independent model to the hub's feed,\n" +
    "and shows what the hub's scans, the members' sessions and an auditor make of them. Exits 0 only if every\n" +
    "copy is caught, the ensemble is a shared violation, the independent model is not accused and every\n" +
    "attestation audits. Ctrl-C stops it cleanly.",
  options: {
    size: {
      type: "string",
      valueName: "size",
      default: "full",
      description: "testbed population: small (fast, may miss) or full",
    },
    out: {
      type: "string",
      valueName: "dir",
      description:
        "folder for keys, configs, bundles and the disclosure (default .lineage/demo/<time>; must not exist)",
    },
    "keep-hub-db": {
      type: "boolean",
      description: "keep the hub's database on disk under the output folder (default: in memory)",
    },
    "cache-dir": {
      type: "string",
      valueName: "dir",
      description: "trained-model cache (default .cache/testbed)",
    },
  },
  run: async (inv) => {
    const size = choiceOpt(inv, "size", ["small", "full"] as const, "full") ?? "full";
    const cacheDir = stringOpt(inv, "cache-dir");
    const out = resolve(
      inv.io.cwd,
      stringOpt(inv, "out") ?? `.lineage/demo/${new Date().toISOString().replace(/[:.]/g, "-")}`,
    );
    if (
      await stat(out).then(
        () => true,
        () => false,
      )
    )
      throw new CliError(
        "invalid_argument",
        `lineage demo: --out ${out} exists; give a folder that does not`,
      );
    await mkdir(out, { recursive: true, mode: 0o700 });
    const say = (s: string) => inv.io.stderr.write(`${s}\n`);
    // Every open call of the run (protect streams, scans, waits) listens for Ctrl-C on the same signal.
    if (inv.io.signal !== undefined) setMaxListeners(200, inv.io.signal);
    say(SIZE_NOTES[size]);
    let result: DemoResult;
    try {
      result = await runDemoStory({
        size,
        outDir: out,
        keepHubDb: inv.options["keep-hub-db"] === true,
        ...(cacheDir !== undefined ? { cacheDir: resolve(inv.io.cwd, cacheDir) } : {}),
        stderr: inv.io.stderr,
        tty: (inv.io.stderr as { isTTY?: boolean }).isTTY === true,
        ...(inv.io.signal !== undefined ? { signal: inv.io.signal } : {}),
      });
    } catch (err) {
      if (err instanceof DemoInterrupted) {
        say("\ninterrupted: servers and databases closed");
        return EXIT.failed;
      }
      throw new CliError("failed", `lineage demo: ${(err as Error).message}`, { cause: err });
    }
    emit(inv, result, table(result));
    return result.story_ok ? EXIT.ok : EXIT.failed;
  },
};
