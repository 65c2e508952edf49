/**
 * What `lineage audit verify` tells a reader about a verified bundle (issue 7, "Output people can read"):
 * the models compared, the verdict, what backs it (the test, its counts, adjusted p-value and effect) or why
 * nothing does, the similarity lead's rank when present, the policy and the session entry. The same facts
 * go to `--json` and to the text, from this one function, so the two cannot drift apart. Every number is
 * the auditor's own re-derivation (deriveVerdict on the statement's counts), not what the statement says.
 */
import type { MemberModelRef, SuspectRef } from "@lineage/api";
import { toHex } from "@lineage/crypto";
import type { TestOutcome } from "@lineage/fingerprint";
import type { BundleVerification } from "./verify-bundle.js";

/** A suspect as a reader names it. */
export function describeSuspect(s: SuspectRef | undefined): string {
  if (s === undefined) return "(no suspect)";
  const id = s.suspectId === "" ? "" : `${s.suspectId}: `;
  switch (s.target.case) {
    case "release": {
      const r = s.target.value;
      return `${id}${r.registry}:${r.repo}@${r.revision}`;
    }
    case "endpoint":
      return `${id}${s.target.value.modelName} at ${s.target.value.baseUrl}`;
    default:
      return s.suspectId === "" ? "(unnamed suspect)" : s.suspectId;
  }
}

/** A member model as a reader names it. */
export function describeMemberModel(m: MemberModelRef | undefined): string {
  if (m === undefined) return "(no member model)";
  return `${m.memberId}/${m.modelId}${m.modelVersion === "" ? "" : `@${m.modelVersion}`}`;
}

function fmtP(p: number): string {
  return p >= 1e-3 ? p.toPrecision(2) : p.toExponential(1);
}

function testJson(t: TestOutcome) {
  return {
    test: t.test,
    available: t.available,
    ...(t.reason === undefined ? {} : { reason: t.reason }),
    p_value: t.available ? t.p_value : null,
    adjusted_p: t.available ? t.adjusted_p : null,
    effect: t.available ? t.effect : null,
  };
}

/** The facts of a verified bundle, for `--json` (snake_case, stable) and the text below. */
export function verificationReport(r: BundleVerification) {
  const st = r.statement;
  const v = r.bound.verdict;
  const ev = r.bound.evidence;
  const deciding = v.tests.find((t) => t.test === v.backed_by);
  const p = r.bound.policy;
  return {
    attestation_index: r.attestationIndex,
    member_id: r.memberKey.memberId,
    key_id: r.memberKey.keyId,
    session_id: st.sessionId,
    session_index: r.bound.session.index,
    sighting_index: r.bound.sighting.index,
    suspect: describeSuspect(st.suspect),
    member_model: describeMemberModel(st.memberModel),
    verdict: v.verdict,
    backed_by: v.backed_by,
    explanation: v.explanation,
    adjusted_p: deciding?.adjusted_p ?? null,
    effect: deciding?.effect ?? null,
    tests: v.tests.map(testJson),
    counts: {
      canary: ev.canary ?? null,
      watermark: ev.watermark ?? null,
      lead: ev.lead ?? null,
      comparisons: ev.comparisons,
    },
    lead:
      v.lead === null
        ? null
        : {
            rank: v.lead.rank,
            null_size: v.lead.null_size,
            p_value: v.lead.p_value,
            is_lead: v.lead.is_lead,
            false_lead_rate: v.lead.false_lead_rate,
            population: v.lead.population,
          },
    policy: {
      id: p.id,
      alpha: p.alpha,
      min_effect: p.min_effect,
      weights: p.weights,
      lead_alpha: p.lead_alpha,
    },
    panel: r.bound.session.body.panel,
    seed: toHex(r.bound.session.body.seed),
    reference_fingerprint_index: r.bound.referenceFingerprint.index,
    canary_commitment_index: r.commitment?.index ?? null,
    watermark_commitment_index: r.bound.watermarkCommitment?.index ?? null,
    checkpoint: { origin: r.checkpoint.origin, size: r.checkpoint.size, root: toHex(r.checkpoint.rootHash) },
    // The hub's keys the verification relied on (docs/specs/hub-keys.md): each delegation and root rotation.
    hub_keys: {
      delegations: r.hubKeys.delegations.map((d) => ({
        purpose: d.purpose,
        key_id: d.key.keyId,
        from_index: d.fromIndex,
        until_index: d.untilIndex ?? null,
      })),
      root_rotations: r.hubKeys.rotations.map((x) => ({ index: x.index, key_id: x.key.keyId })),
    },
  };
}

function hubKeysText(r: BundleVerification): string {
  const d = r.hubKeys.delegations;
  const rot = r.hubKeys.rotations.length;
  if (d.length === 0 && rot === 0) return "one key (the root signs every purpose: no delegation logged)";
  const current = (["membership", "sessions", "countersign"] as const).map((p) => {
    const last = d.filter((x) => x.purpose === p).at(-1);
    return last === undefined
      ? `${p} by the root`
      : `${p} by ${last.key.keyId.slice(0, 16)} (entry ${last.fromIndex})`;
  });
  return `${current.join(", ")}; ${d.length} delegation(s), ${rot} root rotation(s) logged`;
}

function backedByText(r: BundleVerification): string {
  const v = r.bound.verdict;
  const ev = r.bound.evidence;
  if (v.backed_by === null) return `nothing: ${v.explanation}`;
  if (v.backed_by === "similarity_lead" && v.lead !== null) {
    return `similarity lead (not an accusation): closer to the reference than ${v.lead.rank} of ${v.lead.null_size} known-unrelated pairs (rank p = ${fmtP(v.lead.p_value)}, estimated false-lead rate ${(v.lead.false_lead_rate * 100).toFixed(1)}%)`;
  }
  const t = v.tests.find((x) => x.test === v.backed_by);
  const parts: string[] = [];
  if ((v.backed_by === "canary_pairs" || v.backed_by === "canary_watermark") && ev.canary !== undefined) {
    const c = ev.canary;
    parts.push(
      `canary pairs: ${c.exposed_only} exposed-only vs ${c.decoy_only} decoy-only of ${c.pairs_completed} completed pairs (${c.pairs_committed} committed)`,
    );
  }
  if ((v.backed_by === "watermark" || v.backed_by === "canary_watermark") && ev.watermark !== undefined) {
    const w = ev.watermark;
    parts.push(
      `watermark: ${w.selected_green} of ${w.selected_scored} selected pairs green (gamma ${w.gamma}), ${w.all_green} of ${w.all_scored} overall`,
    );
  }
  const stats = t === undefined ? "" : `; adjusted p = ${fmtP(t.adjusted_p)}, effect ${t.effect.toFixed(2)}`;
  return `${v.backed_by.replace("_", " ")} test — ${parts.join("; ")}${stats}`;
}

/** The reader's lines of a verified bundle (after the checks). */
export function verificationText(r: BundleVerification): string {
  const j = verificationReport(r);
  const v = r.bound.verdict;
  const lead =
    v.lead === null
      ? "not run"
      : `closer than ${v.lead.rank} of ${v.lead.null_size} unrelated pairs (population ${v.lead.population || "?"})${v.lead.is_lead ? "" : ", not a lead"}`;
  const rows: Array<[string, string]> = [
    ["models compared", `suspect ${j.suspect}  vs  member model ${j.member_model}`],
    ["verdict", v.verdict],
    ["backed by", backedByText(r)],
    ["similarity lead", lead],
    [
      "policy",
      `${j.policy.id} (alpha ${fmtP(j.policy.alpha)}, min effect ${j.policy.min_effect}; registered, bound in the session)`,
    ],
    [
      "session",
      `entry ${j.session_index} (${j.session_id}; panel of ${j.panel.length} chosen by the hub; suspect first seen at entry ${j.sighting_index}; ${j.counts.comparisons} comparison${j.counts.comparisons === 1 ? "" : "s"} corrected for)`,
    ],
    ["hub keys", hubKeysText(r)],
  ];
  return rows.map(([k, val]) => `  ${k.padEnd(16)} ${val}`).join("\n");
}
