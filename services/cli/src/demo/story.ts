/**
 * The demo's story (issue 12) on the real services of alliance.ts, in the protocol's order:
 *   1. the hub starts; three member nodes start and are enrolled through the hub's gRPC API;
 *   2. each member imports its canary PAIRS into its node, which logs the commitment through the hub; the
 *      first checkpoint covering it draws which item of each pair is exposed; members that watermark store
 *      their key in their node and log its commitment;
 *   3. only then are the members' models trained (the testbed: each teacher learns its exposed items), and the
 *      population — the members' models, the releases and the hub's reference models — served over HTTP;
 *   4. the hub opens an epoch; each member has its node protect its model (probe, log the reference
 *      fingerprint, publish the signed sketch on the bus, which the hub ingests);
 *   5. releases appear in the registry feed the hub polls: a plain distillation of member A, a paraphrased
 *      one, an ensemble of A and B, a weights copy, and an independent model trained on the same public
 *      text; the hub scans each, logs a session per candidate and asks that member's node over gRPC; the node
 *      runs the paired canary and watermark tests and answers with a signed attestation the hub logs; cases
 *      form, and a suspect found in two members' models after Holm is a SHARED VIOLATION;
 *   6. an auditor holding only the hub's verifier key fetches every attestation's bundle through the hub's
 *      gRPC API and verifies it (with the members' key history read from the log), and checks the log's
 *      consistency between the checkpoint it saw first and the last; one member discloses a session's canary
 *      pairs to the auditor, sealed (`lineage member disclose`).
 * Every verdict is printed beside the release's ground truth: a miss or a false accusation shows, and the
 * demo fails unless the story happened.
 */
import { join } from "node:path";
import { CaseState, ProtectPhase, Verdict } from "@lineage/api";
import {
  AuditorState,
  auditConsistency,
  bundleToJson,
  generateAuditorKey,
  hubCheckpointSource,
  hubEntrySource,
  openHubCheckpoint,
  readMemberHistory,
  trustRootFromVerifierKey,
  verifyBundle,
} from "@lineage/auditor";
import { type CanaryPair, canaryPairLabels } from "@lineage/crypto";
import type { FeedSource, ScanResult } from "@lineage/hub";
import { canaryPairsToJsonl, parseAuditorPublicKey } from "@lineage/member-node";
import { insecureChannelCredentials } from "@lineage/rpc";
import {
  buildPopulation,
  type PairSide,
  type PlannedMemberPairs,
  type PlannedModel,
  type PopulationEntry,
  type PopulationSize,
  planCanaryPairs,
  serveTestbed,
  type TestbedServer,
} from "@lineage/testbed";
import {
  type DemoHub,
  type DemoMember,
  demoBus,
  freePort,
  startDemoHub,
  startDemoMember,
  writePrivate,
} from "./alliance.js";
import { checkAborted, progressBar, untilAborted } from "./progress.js";

/** The releases of the story, by the testbed scenario they come from. */
export const STORY = [
  { scenario: "direct", label: "plain distillation of A", kind: "copy" },
  { scenario: "paraphrased", label: "paraphrased distillation of A", kind: "copy" },
  { scenario: "ensemble_50", label: "ensemble of A and B (50/50)", kind: "ensemble" },
  { scenario: "weights_copy", label: "weights copy of A", kind: "copy" },
  { scenario: "independent", label: "independent, same public text", kind: "independent" },
] as const;

export interface DemoRunOptions {
  readonly size: PopulationSize;
  /** Fresh folder the run leaves its keys, configs, bundles and disclosure in (absolute). */
  readonly outDir: string;
  /** Keep the hub's database on disk (under outDir) instead of in memory. */
  readonly keepHubDb: boolean;
  readonly cacheDir?: string;
  readonly stderr: { write(s: string): unknown };
  readonly tty: boolean;
  readonly signal?: AbortSignal;
}

/** One (release, member) pair of the summary table. */
export interface DemoRow {
  suspect: string;
  release: string;
  truth: string;
  member: string;
  verdict: string;
  /** From the verified attestation: its combined p-value and the test that backs its verdict. */
  p_value: number | null;
  backed_by: string | null;
  session_index: number;
  log_index: number;
  audit: string;
  /** "ok", "MISS" (a copy not accused) or "FALSE ACCUSATION". */
  outcome: string;
}

export interface DemoCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DemoResult {
  readonly size: PopulationSize;
  readonly hub: { readonly address: string; readonly origin: string; readonly verifier_key: string };
  readonly members: readonly { member_id: string; role: string; teacher: string; watermark: boolean }[];
  readonly rows: DemoRow[];
  readonly cases: { suspect: string; release: string; members: string[]; shared_violation: boolean }[];
  readonly shared_violations: { release: string; members: string[] }[];
  readonly audit: { bundles: number; verified: number; consistency: string };
  readonly disclosure: { session_id: string; file: string; key_file: string; pairs: number } | null;
  readonly out_dir: string;
  readonly checks: DemoCheck[];
  readonly story_ok: boolean;
  readonly hub_report: string[];
  readonly seconds: number;
}

function truthOf(e: PopulationEntry, names: ReadonlyMap<string, string>): string {
  if (e.members.length === 0) return "unrelated";
  return e.members
    .map((m) => `${names.get(m.memberId) ?? m.memberId}${m.share < 1 ? `@${m.share}` : ""}`)
    .join("+");
}

function toCryptoPairs(m: PlannedMemberPairs): CanaryPair[] {
  return m.pairs.map((p) => ({
    pairId: p.id,
    a: { prompt: p.a.prompt, expected: p.a.answer },
    b: { prompt: p.b.prompt, expected: p.b.answer },
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the story; everything it started is closed before it returns or throws. */
export async function runDemoStory(o: DemoRunOptions): Promise<DemoResult> {
  const started = Date.now();
  const say = (s: string) => o.stderr.write(`${s}\n`);
  const cleanups: (() => Promise<void>)[] = [];
  const hubReport: string[] = [];
  try {
    // ---- the alliance's cast: three members (the testbed's copied members), plus models nobody copied --------
    const planned = planCanaryPairs({ split: "test", size: o.size });
    const alliance = planned.filter((m) => !m.bystander);
    const outsiders = planned.filter((m) => m.bystander);
    if (alliance.length !== 3) throw new Error(`the testbed plans ${alliance.length} copied members, not 3`);
    // Member A and B: the two members the 50/50 ensemble blends (both watermark); C is the third.
    const memberIds = alliance.map((m) => m.memberId);
    const ports = new Map<string, number>();
    for (const id of memberIds) ports.set(id, await freePort());
    const modelsPort = await freePort();
    const modelsUrl = `http://127.0.0.1:${modelsPort}/v1`;
    // The hub's reference population: teachers no alliance member owns (the non-member's and the bystanders').
    const referenceIds = [`test-teacher-nonmember`, ...outsiders.map((m) => m.teacherId)];
    const panelSize = Math.min(6, referenceIds.length);
    // What the story trains (and what it needs): every teacher (the members' and the reference panel's), the
    // plan's first release of each story scenario (the first of each copies member A; its ensemble blends A and
    // B) and the first public-only model (the independent release). `only` sees the plan in order.
    const wanted = new Set<string>();
    const only = (s: PlannedModel): boolean => {
      if (s.role === "member_teacher" || s.role === "nonmember_teacher") return true;
      const key = s.role === "negative" && s.recipe.kind === "negative_public" ? "independent" : s.scenario;
      if (key === undefined || !STORY.some((x) => x.scenario === key) || wanted.has(key)) return false;
      wanted.add(key);
      return true;
    };

    const bus = demoBus();
    cleanups.push(() => bus.close());
    const releases: unknown[] = [];
    const feed: FeedSource = {
      name: "demo-registry",
      intervalMs: 3_600_000,
      read: async () => JSON.stringify({ feed: "demo-registry", releases }),
    };
    const scans = new Map<string, Promise<ScanResult>>();

    say(
      "[1/7] the hub starts (embedded database, gRPC on 127.0.0.1); three member nodes start and enrol ...",
    );
    const hub: DemoHub = await startDemoHub({
      bus,
      ...(o.keepHubDb ? { dataDir: join(o.outDir, "hub", "db") } : {}),
      members: new Map([...ports].map(([id, port]) => [id, `127.0.0.1:${port}`])),
      feed,
      panelSize,
      // A small alliance: every member sharing one coarse band with a release is sessioned (the hub's default
      // asks for more), so a member whose share of a blend is small is still asked; each session is
      // Holm-corrected and alpha-spent like any other.
      minAgreeingBands: 1,
      report: (line) => hubReport.push(line),
      onScan: (id, p) => {
        scans.set(id, p);
        p.catch(() => {});
      },
    });
    cleanups.push(() => hub.close());
    await writePrivate(join(o.outDir, "hub", "verifier-key.txt"), `${hub.verifierKey}\n`);
    say(`      hub ${hub.origin} at ${hub.address}; verifier key ${hub.verifierKey}`);
    const trust = trustRootFromVerifierKey(hub.verifierKey);
    const auditorState = new AuditorState(join(o.outDir, "auditor", "state"));

    const members = new Map<string, DemoMember>();
    const names = new Map<string, string>();
    for (const m of alliance) {
      const member = await startDemoMember({
        memberId: m.memberId,
        dir: join(o.outDir, m.memberId),
        port: ports.get(m.memberId) as number,
        hubAddress: hub.address,
        hubPublicKeyPem: hub.publicKeyPem,
        bus,
        // Every member is sessioned on every release of the story, so each spends its canaries on as many
        // suspects as there are releases: the reuse policy a member expecting that many sets (its choice; the
        // node's default, 3, would decline the later sessions).
        maxSuspectsPerCanary: STORY.length,
        endpoints: {
          main: { baseUrl: modelsUrl, model: m.teacherId },
          ...Object.fromEntries(referenceIds.map((id) => [id, { baseUrl: modelsUrl, model: id }])),
        },
      });
      members.set(m.memberId, member);
      cleanups.push(() => member.close());
      const at = await hub.enrol(m.memberId, `Demo member ${m.memberId}`, member.key);
      say(`      ${m.memberId}: node at ${member.node.address}, enrolled at log index ${at}`);
    }
    // The auditor's first look at the log (it saves the checkpoint and later proves the log only grew).
    for (let i = 0; i < 50 && (hub.log.latestCheckpoint?.treeSize ?? 0) < alliance.length; i++)
      await untilAborted(sleep(100), o.signal);
    {
      using source = hubCheckpointSource(hub.address, insecureChannelCredentials(), 10_000);
      await auditConsistency(source, trust, auditorState);
    }
    checkAborted(o.signal);

    say(
      "[2/7] members commit canary pairs through their nodes; the log draws which item of each pair is exposed ...",
    );
    const labels = new Map<string, PairSide[]>();
    for (const m of alliance) {
      const member = members.get(m.memberId) as DemoMember;
      const file = join(member.dir, "canary-pairs.jsonl");
      await writePrivate(file, canaryPairsToJsonl(toCryptoPairs(m)));
      const res = await member.admin.importCanarySet({
        sourcePath: file,
        commitmentId: `${m.memberId}-pairs-1`,
      });
      const c = res.commitment;
      if (c === undefined) throw new Error(`${m.memberId}: the node answered no commitment`);
      // The first checkpoint covering the commitment decides the labels (the hub signs one every second).
      let bits: (0 | 1)[] | undefined;
      for (let i = 0; i < 100 && bits === undefined; i++) {
        try {
          const first = await hub.client.getFirstCoveringCheckpoint({ leafIndex: c.logIndex });
          const note = first.first?.checkpoint?.signedNote;
          if (note !== undefined) {
            const cp = openHubCheckpoint(note, trust);
            bits = canaryPairLabels({
              checkpointRoot: cp.rootHash,
              checkpointSize: cp.size,
              commitmentRoot: c.merkleRoot,
              pairs: Number(res.canaryCount),
            });
          }
        } catch {
          await untilAborted(sleep(200), o.signal);
        }
      }
      if (bits === undefined) throw new Error(`${m.memberId}: no checkpoint covers its canary commitment`);
      labels.set(
        m.memberId,
        bits.map((b) => (b === 0 ? "a" : "b")),
      );
      let wm = "no watermark (the control member)";
      if (m.watermark) {
        const keyFile = join(member.dir, "watermark-key.hex");
        await writePrivate(keyFile, `${Buffer.from(m.watermark.key).toString("hex")}\n`);
        const id = `${m.memberId}-watermark-1`;
        await member.admin.importWatermarkKey({
          keyPath: keyFile,
          commitmentId: id,
          gamma: m.watermark.gamma,
        });
        const wres = await member.admin.commitWatermarkKey({ commitmentId: id });
        wm = `watermark key committed at log index ${wres.commitment?.logIndex ?? "?"}`;
      }
      say(`      ${m.memberId}: ${res.canaryCount} pairs committed at log index ${c.logIndex}; ${wm}`);
    }
    checkAborted(o.signal);

    say(`[3/7] training the testbed population (${o.size}) on the exposed items the log drew ...`);
    let bar: ReturnType<typeof progressBar> | undefined;
    let total = 0;
    const pop = await untilAborted(
      buildPopulation({
        split: "test",
        size: o.size,
        canaryLabels: labels,
        only,
        ...(o.cacheDir !== undefined ? { cacheDir: o.cacheDir } : {}),
        onProgress: (p) => {
          if (p.phase !== "model") return;
          total = p.total;
          bar ??= progressBar(o.stderr, o.tty, "models", p.total);
          bar.update(p.done, p.cached ? "(cached)" : "(trained)");
        },
      }),
      o.signal,
    );
    (bar ?? progressBar(o.stderr, o.tty, "models", total)).end(
      `(${pop.stats.modelsTrained} trained, ${pop.stats.modelsCached} from the cache)`,
    );
    // Member A and B: the members of the 50/50 ensemble; A is the one the single-teacher copies copy.
    const ensemble = pop.entries.find((e) => e.scenario === "ensemble_50");
    const direct = pop.entries.find((e) => e.scenario === "direct");
    if (ensemble === undefined || direct === undefined)
      throw new Error("the testbed has no ensemble or direct copy");
    const a = direct.members[0]?.memberId as string;
    const b = ensemble.members.map((m) => m.memberId).find((id) => id !== a) as string;
    const c = memberIds.find((id) => id !== a && id !== b) as string;
    names.set(a, `A (${a})`);
    names.set(b, `B (${b})`);
    names.set(c, `C (${c})`);
    const suspects: { entry: PopulationEntry; label: string; kind: string }[] = [];
    for (const s of STORY) {
      const entry =
        s.scenario === "independent"
          ? pop.entries.find((e) => e.role === "negative" && e.recipe.kind === "negative_public")
          : pop.entries.find((e) => e.scenario === s.scenario && e.members.some((m) => m.memberId === a));
      if (entry === undefined) throw new Error(`the testbed has no ${s.scenario} release of member A`);
      suspects.push({ entry, label: s.label, kind: s.kind });
    }
    const served: TestbedServer = await serveTestbed({
      port: modelsPort,
      models: pop.entries.map((e) => e.model),
    });
    cleanups.push(() => served.close());
    say(`      ${pop.entries.length} models served at ${modelsUrl}`);
    checkAborted(o.signal);

    say(
      "[4/7] the hub opens an epoch; each node protects its model (probe, log the reference, publish the sketch) ...",
    );
    const epochId = `demo-${new Date()
      .toISOString()
      .slice(0, 19)
      .replace(/[^0-9T]/g, "")}`;
    await hub.createEpoch(epochId, pop.probes);
    await hub.addReference(
      referenceIds.map((id) => ({
        modelId: id,
        populationId: "demo-reference/1",
        baseUrl: modelsUrl,
        modelName: id,
      })),
    );
    for (const m of alliance) {
      const member = members.get(m.memberId) as DemoMember;
      const pbar = progressBar(
        o.stderr,
        o.tty,
        `${names.get(m.memberId)} probes`.padEnd(20),
        pop.probes.length,
      );
      for await (const p of member.admin.protect(
        { model: { memberId: m.memberId, modelId: m.teacherId, modelVersion: "1" }, adapter: "main" },
        o.signal,
      )) {
        pbar.update(p.probesDone, p.phase === ProtectPhase.DONE ? "sketch published" : "");
      }
      pbar.end("reference logged, sketch published");
    }
    // The hub ingests the sketches from the bus (its durable consumer).
    for (let i = 0; i < 300 && hub.runtime.index.metrics.snapshot().indexed < alliance.length; i++)
      await untilAborted(sleep(100), o.signal);
    const indexed = hub.runtime.index.metrics.snapshot().indexed;
    say(`      the hub indexed ${indexed} sketch(es)`);
    if (indexed < alliance.length)
      throw new Error(`the hub indexed ${indexed} of ${alliance.length} sketches`);
    // The retriever catches up with the store every 2 s (as replicas do); scans wait until it holds the epoch.
    const retriever = hub.runtime.index.retriever;
    for (let i = 0; i < 100 && (retriever.epochId !== epochId || retriever.size < alliance.length); i++) {
      await untilAborted(retriever.refresh(), o.signal);
      if (retriever.epochId !== epochId || retriever.size < alliance.length)
        await untilAborted(sleep(100), o.signal);
    }

    say("[5/7] releases appear in the registry feed; the hub scans them, opens sessions, members attest ...");
    const bySuspectId = new Map<string, { entry: PopulationEntry; label: string; kind: string }>();
    for (const s of suspects) {
      releases.push({
        registry: "huggingface",
        repo: `someone/${s.entry.id}`,
        revision: "main",
        endpoint: { base_url: modelsUrl, model_name: s.entry.id, api: "openai_chat", logprobs: true },
      });
      const ids = await hub.runtime.pollFeed();
      if (ids.length !== 1) throw new Error(`the feed poll submitted ${ids.length} suspects, not 1`);
      bySuspectId.set(ids[0] as string, s);
      say(`      released ${s.entry.id} (${s.label}) -> suspect ${ids[0]}`);
    }
    const sbar = progressBar(o.stderr, o.tty, "releases scanned", suspects.length);
    let done = 0;
    sbar.update(0);
    const results = new Map<string, ScanResult | Error>();
    await untilAborted(
      Promise.all(
        [...bySuspectId.keys()].map(async (id) => {
          const p = scans.get(id);
          results.set(
            id,
            p === undefined ? new Error("never scanned") : await p.catch((e: unknown) => e as Error),
          );
          sbar.update(++done);
        }),
      ),
      o.signal,
    );
    sbar.end();

    // ---- the table: every (release, member) pair, against the ground truth --------------------------------
    const rows: DemoRow[] = [];
    const attested: { row: DemoRow; sessionId: string; memberId: string; kind: string }[] = [];
    for (const [suspectId, s] of bySuspectId) {
      const r = results.get(suspectId);
      const truth = truthOf(s.entry, names);
      const derived = (m: string) => s.entry.members.some((x) => x.memberId === m);
      const seen = new Set<string>();
      if (r instanceof Error || r === undefined) {
        for (const m of s.entry.members)
          rows.push({
            suspect: suspectId,
            release: s.label,
            truth,
            member: names.get(m.memberId) ?? m.memberId,
            verdict: `SCAN FAILED: ${r?.message ?? "?"}`,
            p_value: null,
            backed_by: null,
            session_index: -1,
            log_index: -1,
            audit: "-",
            outcome: "MISS",
          });
        continue;
      }
      // Sessions come in the order of the candidates the scan retrieved.
      for (const [i, x] of r.sessions.entries()) {
        const memberId = r.candidates[i]?.model.memberId ?? ("error" in x ? x.model.memberId : "?");
        seen.add(memberId);
        if ("error" in x) {
          rows.push({
            suspect: suspectId,
            release: s.label,
            truth,
            member: names.get(memberId) ?? memberId,
            verdict: `ERROR: ${x.error}`,
            p_value: null,
            backed_by: null,
            session_index: -1,
            log_index: -1,
            audit: "-",
            outcome: derived(memberId) ? "MISS" : "ok",
          });
          continue;
        }
        const verdict =
          x.outcome === "attested" ? (Verdict[x.verdict] ?? String(x.verdict)) : x.outcome.toUpperCase();
        const accused = x.outcome === "attested" && x.verdict === Verdict.LIKELY_DERIVED;
        const row: DemoRow = {
          suspect: suspectId,
          release: s.label,
          truth,
          member: names.get(memberId) ?? memberId,
          verdict,
          p_value: null,
          backed_by: null,
          session_index: x.sessionIndex,
          log_index: x.outcome === "attested" ? x.attestationIndex : -1,
          audit: x.outcome === "attested" ? "pending" : "-",
          outcome: accused
            ? derived(memberId)
              ? "ok"
              : "FALSE ACCUSATION"
            : derived(memberId)
              ? "MISS"
              : "ok",
        };
        rows.push(row);
        if (x.outcome === "attested") attested.push({ row, sessionId: x.sessionId, memberId, kind: s.kind });
      }
      for (const m of s.entry.members.filter((x) => !seen.has(x.memberId)))
        rows.push({
          suspect: suspectId,
          release: s.label,
          truth,
          member: names.get(m.memberId) ?? m.memberId,
          verdict: "NOT RETRIEVED",
          p_value: null,
          backed_by: null,
          session_index: -1,
          log_index: -1,
          audit: "-",
          outcome: "MISS",
        });
      if (r.sessions.length === 0 && s.entry.members.length === 0)
        rows.push({
          suspect: suspectId,
          release: s.label,
          truth,
          member: "-",
          verdict: "NO CANDIDATE",
          p_value: null,
          backed_by: null,
          session_index: -1,
          log_index: -1,
          audit: "-",
          outcome: "ok",
        });
    }

    say("[6/7] cases: attribution across members (Holm); shared violations ...");
    const listed = await hub.client.listCases({ pageSize: 500 });
    const cases = listed.cases.map((k) => {
      const s = bySuspectId.get(k.suspect?.suspectId ?? "");
      return {
        suspect: k.suspect?.suspectId ?? "",
        release: s?.label ?? "?",
        members: [...k.memberIds],
        shared_violation: k.sharedViolation,
        state: CaseState[k.state] ?? String(k.state),
      };
    });
    const shared = cases
      .filter((k) => k.shared_violation)
      .map((k) => ({ release: k.release, members: k.members.map((m) => names.get(m) ?? m) }));
    for (const k of cases)
      say(
        `      case on ${k.release}: ${k.members.map((m) => names.get(m) ?? m).join(" and ")}${k.shared_violation ? " — shared violation" : ""}`,
      );
    if (cases.length === 0) say("      no case opened");

    say(
      "[7/7] the auditor verifies every attestation with only the hub's verifier key; a member discloses ...",
    );
    const bundlesDir = join(o.outDir, "bundles");
    for (let i = 0; i < 100 && (hub.log.latestCheckpoint?.treeSize ?? 0) < hub.log.size; i++)
      await untilAborted(sleep(100), o.signal);
    const abar = progressBar(o.stderr, o.tty, "bundles verified", attested.length);
    let verified = 0;
    const auditFailures: string[] = [];
    abar.update(0);
    for (const x of attested) {
      try {
        // A bundle needs a signed checkpoint covering its attestation (the hub signs one every second).
        let res: Awaited<ReturnType<typeof hub.client.getAttestationBundle>> | undefined;
        for (let i = 0; res === undefined; i++) {
          try {
            res = await hub.client.getAttestationBundle({
              selector: { case: "logIndex", value: BigInt(x.row.log_index) },
            });
          } catch (err) {
            if (i >= 20) throw err;
            await untilAborted(sleep(250), o.signal);
          }
        }
        const bundle = res.bundle;
        if (bundle === undefined) throw new Error("the hub sent no bundle");
        const cp = openHubCheckpoint(bundle.checkpoint?.signedNote ?? new Uint8Array(0), trust);
        let history: Awaited<ReturnType<typeof readMemberHistory>>;
        {
          using source = hubEntrySource(hub.address, insecureChannelCredentials(), 10_000);
          history = await readMemberHistory(source, cp);
        }
        const v = verifyBundle(bundle, trust, { history });
        const expected = x.row.verdict;
        const rederived = Verdict[v.statement.verdict] ?? "";
        if (rederived !== expected)
          throw new Error(`bundle verdict ${rederived} is not the session's ${expected}`);
        await writePrivate(join(bundlesDir, `attestation-${x.row.log_index}.json`), bundleToJson(bundle));
        x.row.audit = "verified";
        x.row.p_value = v.statement.evidence?.combinedPValue ?? null;
        x.row.backed_by = v.statement.backedBy === "" ? null : v.statement.backedBy;
        verified++;
      } catch (err) {
        x.row.audit = "FAILED";
        auditFailures.push(
          `attestation #${x.row.log_index}: ${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}`,
        );
      }
      abar.update(verified);
    }
    abar.end();
    let consistency = "verified";
    try {
      using source = hubCheckpointSource(hub.address, insecureChannelCredentials(), 10_000);
      const r = await auditConsistency(source, trust, auditorState);
      consistency = `verified (size ${r.previous?.size ?? 0} -> ${r.current.size})`;
    } catch (err) {
      consistency = `FAILED: ${(err as { code?: string }).code ?? (err as Error).message}`;
    }
    say(`      log consistency: ${consistency}`);

    // The disclosure: member A opens the canary pairs of its session on the ensemble (else on the plain copy).
    let disclosure: DemoResult["disclosure"] = null;
    const pick =
      attested.find((x) => x.kind === "ensemble" && x.memberId === a && x.row.verdict === "LIKELY_DERIVED") ??
      attested.find((x) => x.memberId === a && x.row.verdict === "LIKELY_DERIVED");
    if (pick !== undefined) {
      const auditorKey = generateAuditorKey();
      const keyFile = join(o.outDir, "auditor", "disclosure-key.txt");
      await writePrivate(keyFile, auditorKey.privateKeyText);
      const res = await (members.get(a) as DemoMember).admin.disclose({
        sessionId: pick.sessionId,
        auditorPublicKey: parseAuditorPublicKey(auditorKey.publicKeyText),
        witnessKeys: [],
        witnessQuorum: 0,
      });
      const file = join(o.outDir, "disclosure", `${pick.sessionId.replace(/[^A-Za-z0-9._-]/g, "_")}.sealed`);
      await writePrivate(file, res.sealedPackage);
      disclosure = { session_id: pick.sessionId, file, key_file: keyFile, pairs: res.sampleSize };
      say(
        `      ${names.get(a)} disclosed ${res.sampleSize} pairs of session ${pick.sessionId}, sealed to the auditor`,
      );
    }

    // ---- did the story happen? ---------------------------------------------------------------------------
    const checks: DemoCheck[] = [];
    const rowsOf = (kind: string) => {
      const ids = [...bySuspectId].filter(([, s]) => s.kind === kind).map(([id]) => id);
      return rows.filter((r) => ids.includes(r.suspect));
    };
    for (const [suspectId, s] of bySuspectId) {
      if (s.kind !== "copy") continue;
      const accused = rows.some(
        (r) => r.suspect === suspectId && r.member === names.get(a) && r.verdict === "LIKELY_DERIVED",
      );
      checks.push({
        check: `${s.label} caught`,
        ok: accused,
        detail: accused ? "A accused" : "A not accused (MISS)",
      });
    }
    const ensembleCase = cases.find((k) => bySuspectId.get(k.suspect)?.kind === "ensemble");
    const sharedOk =
      ensembleCase?.shared_violation === true &&
      ensembleCase.members.includes(a) &&
      ensembleCase.members.includes(b);
    checks.push({
      check: "ensemble of A and B is a shared violation",
      ok: sharedOk,
      detail:
        ensembleCase === undefined
          ? "no case opened on the ensemble"
          : `case members ${ensembleCase.members.map((m) => names.get(m) ?? m).join(", ")}${ensembleCase.shared_violation ? ", shared violation" : ", not shared"}`,
    });
    const independentAccused = rowsOf("independent").filter((r) => r.verdict === "LIKELY_DERIVED");
    checks.push({
      check: "independent model not accused",
      ok: independentAccused.length === 0,
      detail:
        independentAccused.length === 0
          ? "no accusation"
          : `accused by ${independentAccused.map((r) => r.member).join(", ")}`,
    });
    const falseAccusations = rows.filter((r) => r.outcome === "FALSE ACCUSATION");
    checks.push({
      check: "no false accusation",
      ok: falseAccusations.length === 0,
      detail: `${falseAccusations.length} false accusation(s)`,
    });
    checks.push({
      check: "every attestation audited",
      ok: attested.length > 0 && verified === attested.length,
      detail: `${verified}/${attested.length} bundles verified${auditFailures.length > 0 ? ` (${auditFailures.join("; ")})` : ""}`,
    });
    checks.push({ check: "log consistent", ok: consistency.startsWith("verified"), detail: consistency });
    checks.push({
      check: "disclosure package written",
      ok: disclosure !== null,
      detail: disclosure === null ? "no accused session of A to disclose" : disclosure.file,
    });
    return {
      size: o.size,
      hub: { address: hub.address, origin: hub.origin, verifier_key: hub.verifierKey },
      members: alliance.map((m) => ({
        member_id: m.memberId,
        role: names.get(m.memberId)?.slice(0, 1) ?? "?",
        teacher: m.teacherId,
        watermark: m.watermark !== undefined,
      })),
      rows,
      cases: cases.map(({ suspect, release, members: ms, shared_violation }) => ({
        suspect,
        release,
        members: ms,
        shared_violation,
      })),
      shared_violations: shared,
      audit: { bundles: attested.length, verified, consistency },
      disclosure,
      out_dir: o.outDir,
      checks,
      story_ok: checks.every((x) => x.ok),
      hub_report: hubReport,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    while (cleanups.length > 0)
      await cleanups
        .pop()?.()
        .catch(() => {});
  }
}
