/**
 * `lineage demo`: the main job on the embedded default — the whole alliance in one process, on an
 * in-memory (or on-disk) PGlite database, against the testbed's models served over HTTP:
 *   1. enrol: the hub logs each member's key;
 *   2. protect: each member probes its own model on the epoch battery and hands the hub a keyed sketch;
 *   3. scan: the hub probes each suspect, sketches it and retrieves candidate member models (LSH);
 *   4. confirm: each candidate's member runs its private tests (canaries, watermark, panel comparison)
 *      and signs an attestation with the calibrated decision;
 *   5. log: the hub countersigns and appends it to the transparency log, then signs a checkpoint;
 *   6. audit: an auditor holding only the hub's verifier key checks every attestation bundle.
 * The population's ground truth is printed beside each decision, so a wrong call shows.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { trustRootFromVerifierKey, verifyBundle } from "@lineage/auditor";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  type Battery,
  buildSketch,
  type CompareResult,
  compare,
  createSketchContext,
  HttpAdapter,
  probeModel,
  SketchIndex,
  sketchInputsFromFingerprint,
} from "@lineage/fingerprint";
import { buildAttestationBundle, enrolmentRecord, TransparencyLog } from "@lineage/hub";
import { attestationStatement, signAttestation } from "@lineage/member-node";
import { type HubDatabase, hubMigrations, openStore } from "@lineage/store";
import { buildPopulation, type PopulationEntry, SCENARIOS, serveTestbed } from "@lineage/testbed";
import { EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { choiceOpt, emit, intOpt, stringOpt } from "../option-values.js";

interface Row {
  suspect: string;
  truth: string;
  candidates: string[];
  member: string;
  decision: string;
  p_value: number;
  deciding_signal: string | null;
  queries: number;
  log_index: number;
  audit: "verified" | string;
  correct: boolean;
}

function truthOf(e: PopulationEntry): string {
  if (e.members.length === 0) return "unrelated";
  return `${e.scenario ?? e.role} of ${e.members.map((m) => `${m.memberId}${m.share < 1 ? `@${m.share}` : ""}`).join("+")}`;
}

export const demo: Command = {
  name: "demo",
  summary: "Run the whole alliance in one process (embedded database, in-process roles) on the testbed.",
  description:
    "Enrols the testbed's member teachers, publishes their sketches, scans one suspect per copying scenario\n" +
    "and a few unrelated models, confirms candidates with the calibrated tests, logs signed attestations and\n" +
    "audits them. The first run trains the testbed's models (about a minute; cached in .cache/testbed).",
  options: {
    size: {
      type: "string",
      valueName: "size",
      default: "full",
      description: "testbed population: small or full",
    },
    unrelated: {
      type: "string",
      valueName: "n",
      default: "3",
      description: "unrelated suspects to scan (0..20)",
    },
    "data-dir": {
      type: "string",
      valueName: "dir",
      description: "keep the hub's database here (default: in memory)",
    },
    "cache-dir": {
      type: "string",
      valueName: "dir",
      description: "trained-model cache (default .cache/testbed)",
    },
  },
  run: async (inv) => {
    const size = choiceOpt(inv, "size", ["small", "full"] as const, "full") ?? "full";
    const unrelated = intOpt(inv, "unrelated", { min: 0, max: 20 }, 3) ?? 3;
    const dataDir = stringOpt(inv, "data-dir");
    const cacheDir = stringOpt(inv, "cache-dir");
    const say = (s: string) => inv.io.stderr.write(`${s}\n`);
    const started = Date.now();

    say(`[1/6] building the testbed population (${size}) ...`);
    const pop = await buildPopulation({
      split: "test",
      size,
      ...(cacheDir !== undefined ? { cacheDir: resolve(inv.io.cwd, cacheDir) } : {}),
      onProgress: (p) => {
        if (p.phase === "model") inv.io.stderr.write(`\r      models ${p.done}/${p.total}`);
        if (p.phase === "done") inv.io.stderr.write("\n");
      },
    });
    await using server = await serveTestbed({ models: pop.entries.map((e) => e.model) });
    const adapter = (id: string) => new HttpAdapter({ baseUrl: server.url, model: id, concurrency: 8 });
    say(`      ${pop.entries.length} models served at ${server.url}/v1`);

    // The hub: its key, its database, its log.
    if (dataDir !== undefined) await mkdir(resolve(inv.io.cwd, dataDir), { recursive: true, mode: 0o700 });
    await using store = await openStore<HubDatabase>(
      dataDir === undefined ? { kind: "pglite" } : { kind: "pglite", dataDir: resolve(inv.io.cwd, dataDir) },
    );
    await store.migrate(hubMigrations);
    const hubKey = Ed25519PrivateKey.generate();
    await using log = await TransparencyLog.open({
      store,
      origin: "lineage.demo/log",
      hubKey,
      checkpointIntervalMs: 100,
    });

    say("[2/6] enrolling members and protecting their models ...");
    const epochId = `demo-${new Date().toISOString().slice(0, 10)}`;
    const battery: Battery = { epoch: epochId, probes: pop.probes };
    const sketchContext = createSketchContext(randomBytes(32), epochId);
    const index = new SketchIndex(epochId);
    const memberKeys = new Map<string, Ed25519PrivateKey>();
    for (const m of pop.members) {
      const key = Ed25519PrivateKey.generate();
      memberKeys.set(m.memberId, key);
      await log.appendMembership(
        enrolmentRecord(m.memberId, `Testbed ${m.memberId}`, key.publicKey, Date.now() - 60_000),
      );
      // The fingerprint stays with the member; only the keyed sketch goes to the hub.
      const fp = await probeModel(adapter(m.teacherId), battery, { concurrency: 8 });
      index.add(
        `${m.memberId}/${m.teacherId}`,
        buildSketch(sketchInputsFromFingerprint(battery, fp), sketchContext),
      );
      say(`      ${m.memberId}: key ${key.keyId.slice(0, 12)}…, sketch of ${m.teacherId} indexed`);
    }

    // Suspects: one per copying scenario, and some unrelated models.
    const suspects: PopulationEntry[] = [];
    for (const s of SCENARIOS) {
      const e = pop.entries.find((x) => x.scenario === s);
      if (e) suspects.push(e);
    }
    suspects.push(...pop.entries.filter((e) => e.role === "negative").slice(0, unrelated));
    const panelPool = pop.entries.filter((e) => e.role === "negative" || e.role === "nonmember_teacher");

    say(`[3/6] scanning ${suspects.length} suspects: probe, sketch, retrieve candidates ...`);
    say("[4/6] members confirm candidates privately and sign attestations ...");
    const rows: Row[] = [];
    const logged: { row: Row; index: number }[] = [];
    for (const suspect of suspects) {
      const fp = await probeModel(adapter(suspect.id), battery, { concurrency: 8 });
      const sk = buildSketch(sketchInputsFromFingerprint(battery, fp), sketchContext);
      // A three-member alliance is small enough to rank every member model by the sketch score and
      // confirm the top two; a large one gates on agreeing coarse bands first (the index's default).
      const candidates = index.query(sk, { minAgreeingBands: 1, limit: 2 });
      const names = candidates.map((c) => c.modelRef);
      if (candidates.length === 0) {
        const row: Row = {
          suspect: suspect.id,
          truth: truthOf(suspect),
          candidates: [],
          member: "-",
          decision: "NO_CANDIDATE",
          p_value: 1,
          deciding_signal: null,
          queries: fp.queries,
          log_index: -1,
          audit: "-",
          correct: suspect.members.length === 0,
        };
        rows.push(row);
        say(`      ${suspect.id}: no candidate`);
        continue;
      }
      for (const c of candidates) {
        const [memberId, teacherId] = c.modelRef.split("/") as [string, string];
        const member = pop.members.find((m) => m.memberId === memberId);
        if (!member) continue;
        const panel = panelPool.filter((e) => e.id !== suspect.id).slice(0, 6);
        const result: CompareResult = await compare({
          suspect: adapter(suspect.id),
          reference: adapter(teacherId),
          panel: panel.map((e) => adapter(e.id)),
          battery,
          canaries: { memberId, exposed: member.canaries.exposed, decoys: member.canaries.decoys },
          ...(member.watermark
            ? { watermarkKey: member.watermark.key, watermarkGamma: member.watermark.gamma }
            : {}),
          policy: { comparisons: candidates.length },
          concurrency: 8,
        });
        const derived = suspect.members.some((m) => m.memberId === memberId);
        const statement = attestationStatement(
          {
            memberId,
            model: { modelId: teacherId, modelVersion: "1" },
            suspect: {
              suspectId: suspect.id,
              target: { case: "endpoint", value: { baseUrl: server.url, modelName: suspect.id } },
            },
            sessionId: `demo-${suspect.id}-${memberId}`,
            sessionNonce: randomBytes(16),
            epochId,
            issuedAtMs: Date.now(),
          },
          result,
        );
        const appended = await log.appendAttestation(
          signAttestation(statement, memberKeys.get(memberId) as Ed25519PrivateKey),
        );
        const row: Row = {
          suspect: suspect.id,
          truth: truthOf(suspect),
          candidates: names,
          member: memberId,
          decision: result.decision,
          p_value: result.p_value,
          deciding_signal: result.deciding_signal,
          queries: result.queries.total,
          log_index: appended.index,
          audit: "pending",
          // A false accusation is wrong; missing a copy is a miss, reported as such.
          correct: result.decision === "LIKELY_DERIVED" ? derived : !derived,
        };
        rows.push(row);
        logged.push({ row, index: appended.index });
        say(
          `      ${suspect.id} vs ${memberId}: ${result.decision} (p=${result.p_value.toExponential(2)}, ${result.queries.total} queries)`,
        );
      }
    }

    say("[5/6] signing a checkpoint ...");
    const cp = await log.checkpoint();
    say(`      tree size ${cp.treeSize}`);
    say("[6/6] auditing every attestation with only the hub's verifier key ...");
    const trust = trustRootFromVerifierKey(log.verifierKey);
    for (const l of logged) {
      try {
        verifyBundle(await buildAttestationBundle(log, { logIndex: l.index }), trust);
        l.row.audit = "verified";
      } catch (err) {
        l.row.audit = `FAILED: ${(err as { code?: string }).code ?? String(err)}`;
      }
    }

    const derivedRows = rows.filter((r) => r.decision === "LIKELY_DERIVED");
    const falseAccusations = derivedRows.filter((r) => !r.correct).length;
    const summary = {
      population: { size, models: pop.entries.length, probes: pop.probes.length },
      checkpoint: { tree_size: cp.treeSize, note: cp.note },
      hub_verifier_key: log.verifierKey,
      results: rows,
      likely_derived: derivedRows.length,
      false_accusations: falseAccusations,
      audited: logged.filter((l) => l.row.audit === "verified").length,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    const w = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
    const human = [
      "",
      `${w("suspect", 28)} ${w("truth", 30)} ${w("member", 9)} ${w("decision", 15)} ${w("p-value", 9)} ${w("signal", 22)} ${w("queries", 7)} audit`,
      ...rows.map(
        (r) =>
          `${w(r.suspect, 28)} ${w(r.truth, 30)} ${w(r.member, 9)} ${w(r.decision, 15)} ${w(r.p_value.toExponential(1), 9)} ${w(r.deciding_signal ?? "-", 22)} ${w(String(r.queries), 7)} ${r.audit}`,
      ),
      "",
      `${derivedRows.length} LIKELY_DERIVED, ${falseAccusations} false accusation(s); ${summary.audited}/${logged.length} attestations audited; log size ${cp.treeSize}; ${summary.seconds}s`,
    ].join("\n");
    emit(inv, summary, human);
    return logged.every((l) => l.row.audit === "verified") ? EXIT.ok : EXIT.failed;
  },
};
