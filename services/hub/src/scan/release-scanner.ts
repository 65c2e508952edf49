/**
 * Release scanning (DESIGN.md flow 4 "Scan"; issue 10 "Release scanning"): the hub learns of a release from a
 * feed adapter (registry-feed.ts) or a member's report (SubmitSuspect), then
 *   1. names it: a hub-assigned suspect id fixed by what the suspect is (registry/repo/revision/weight digest,
 *      or endpoint URL and model), so the same release reported twice is one suspect;
 *   2. logs its FIRST SIGHTING (hub-signed) — commitments a session may bind must precede it;
 *   3. probes it on the current epoch's battery through the engine's adapters (concurrency bounded, progress
 *      reported), with probe ids the decimal battery indexes, exactly as members sketch their own models;
 *   4. sketches it with the epoch key (the same keyed recipe as the members' sketches);
 *   5. retrieves candidates from the index (coarse band signature first, then per-probe agreement);
 *   6. opens a match session with each candidate's member (sessions/session-manager.ts), the number of that
 *      member's models retrieved being the session's `comparisons` (the correction across members is the
 *      cases' Holm step).
 * Everything the suspect is asked is a battery probe; canaries are only ever sent by the member nodes.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  type MemberModelRef,
  MemberModelRefSchema,
  ProbeKind,
  type SuspectRef,
  SuspectRefSchema,
  SuspectSource,
} from "@lineage/api";
import { toHex } from "@lineage/crypto";
import {
  type Battery,
  buildSketch,
  COARSE_BANDS,
  createSketchContext,
  type Fingerprint,
  type ModelAdapter,
  type Probe,
  probeModel,
  sketchInputsFromFingerprint,
  splitBattery,
} from "@lineage/fingerprint";
import type { EpochStore } from "../epochs/epoch-store.js";
import { batteryOf } from "../epochs/epoch-store.js";
import type { SketchRetriever } from "../index/sketch-retriever.js";
import { HubError } from "../ingest/hub-error.js";
import { isLogError } from "../log/log-error.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import type { SessionManager, SessionOutcome } from "../sessions/session-manager.js";

const KINDS: Readonly<Record<number, Probe["kind"]>> = {
  [ProbeKind.EDGE_CASE]: "edge",
  [ProbeKind.OPEN_ENDED]: "open",
  [ProbeKind.SHORT_COMPLETION]: "completion",
};

/** How the scan of one suspect went. */
export interface ScanResult {
  readonly suspectId: string;
  readonly sightingIndex: number;
  readonly probes: number;
  readonly candidates: readonly { readonly model: MemberModelRef; readonly score: number }[];
  readonly sessions: readonly (SessionOutcome | { readonly error: string; readonly model: MemberModelRef })[];
}

/** Progress of a scan (counts only). */
export interface ScanProgress {
  readonly suspectId: string;
  readonly phase: "probing" | "retrieving" | "sessions" | "done";
  readonly done: number;
  readonly total: number;
}

export interface ReleaseScannerOptions {
  readonly log: TransparencyLog;
  readonly epochs: EpochStore;
  readonly retriever: SketchRetriever;
  readonly sessions: SessionManager;
  /** The engine's adapter for a suspect (undefined: the hub cannot reach it). */
  readonly adapterFor: (suspect: SuspectRef) => ModelAdapter | undefined;
  /** Queries in flight to one suspect (default 8). */
  readonly concurrency?: number;
  /** Candidates retrieved per suspect (default 10). */
  readonly maxCandidates?: number;
  /**
   * Coarse bands a protected model must share with the suspect to be retrieved (default LSH_V1's). A small
   * alliance may lower it so that every plausible member is sessioned (each session is Holm-corrected and
   * alpha-spent as any other).
   */
  readonly minAgreeingBands?: number;
  readonly onProgress?: (p: ScanProgress) => void;
}

const ID_CHARS = /^[\x20-\x7e]*$/;

/** Checks a submitted suspect where it arrives (untrusted: a member's report or a feed entry). */
export function checkSuspect(s: SuspectRef): void {
  if (s.suspectId !== "")
    throw new HubError("invalid_argument", "suspect.suspect_id must be empty in a submission");
  const t = s.target;
  if (t.case === "release") {
    const r = t.value;
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(r.registry))
      throw new HubError("invalid_argument", "suspect.release.registry must be 1..64 of [a-z0-9._-]");
    if (r.repo.length < 1 || r.repo.length > 256 || !ID_CHARS.test(r.repo))
      throw new HubError("invalid_argument", "suspect.release.repo must be 1..256 printable characters");
    if (r.revision.length < 1 || r.revision.length > 128 || !ID_CHARS.test(r.revision))
      throw new HubError("invalid_argument", "suspect.release.revision must be 1..128 printable characters");
    if (r.weightDigest.length !== 0 && r.weightDigest.length !== 32)
      throw new HubError("invalid_argument", "suspect.release.weight_digest must be empty or 32 bytes");
  } else if (t.case === "endpoint") {
    const e = t.value;
    let url: URL;
    try {
      url = new URL(e.baseUrl);
    } catch {
      throw new HubError("invalid_argument", "suspect.endpoint.base_url is not a URL");
    }
    const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
    if (e.baseUrl.length > 2048 || !(url.protocol === "https:" || (url.protocol === "http:" && loopback)))
      throw new HubError(
        "invalid_argument",
        "suspect.endpoint.base_url must be https (http only on loopback), at most 2048 characters",
      );
    if (url.username !== "" || url.password !== "")
      throw new HubError("invalid_argument", "suspect.endpoint.base_url must not carry credentials");
    if (e.modelName.length < 1 || e.modelName.length > 256 || !ID_CHARS.test(e.modelName))
      throw new HubError(
        "invalid_argument",
        "suspect.endpoint.model_name must be 1..256 printable characters",
      );
  } else {
    throw new HubError("invalid_argument", "suspect.target must be a release or an endpoint");
  }
}

/** The hub's id of a suspect: fixed by what it is (module header, step 1). */
export function suspectIdOf(s: SuspectRef): string {
  const t = s.target;
  const what =
    t.case === "release"
      ? `release\n${t.value.registry}\n${t.value.repo}\n${t.value.revision}\n${toHex(t.value.weightDigest)}`
      : t.case === "endpoint"
        ? `endpoint\n${t.value.baseUrl}\n${t.value.modelName}`
        : "";
  return `sus-${createHash("sha256").update(`lineage-suspect/v1\n${what}`).digest("hex").slice(0, 32)}`;
}

/** The scanner (module header). */
export class ReleaseScanner {
  readonly #o: ReleaseScannerOptions;

  constructor(options: ReleaseScannerOptions) {
    const { maxCandidates: k, minAgreeingBands: b } = options;
    if (k !== undefined && !(Number.isInteger(k) && k >= 1 && k <= 1000))
      throw new HubError("invalid_argument", "maxCandidates must be an integer in 1..1000");
    if (b !== undefined && !(Number.isInteger(b) && b >= 1 && b <= COARSE_BANDS))
      throw new HubError("invalid_argument", `minAgreeingBands must be an integer in 1..${COARSE_BANDS}`);
    this.#o = options;
  }

  /**
   * Steps 1-2: names the suspect and logs its first sighting. Returns its id, whether it was known already,
   * and (for a new one) the scan running in the background.
   */
  async submit(input: {
    readonly suspect: SuspectRef;
    readonly source: SuspectSource;
    readonly reporter?: string;
  }): Promise<{
    readonly suspectId: string;
    readonly alreadyKnown: boolean;
    readonly scan?: Promise<ScanResult>;
  }> {
    checkSuspect(input.suspect);
    if (input.source === SuspectSource.UNSPECIFIED || SuspectSource[input.source] === undefined)
      throw new HubError("invalid_argument", "source must be FEED_ADAPTER, MEMBER_REPORT or SECRETARIAT");
    const suspectId = suspectIdOf(input.suspect);
    const suspect = create(SuspectRefSchema, { ...input.suspect, suspectId });
    if (this.#o.log.sightingOf(suspectId) !== undefined) return { suspectId, alreadyKnown: true };
    let sightingIndex: number;
    try {
      const seen = await this.#o.log.appendSighting({
        suspect,
        source: input.source,
        ...(input.reporter ? { reporter: input.reporter } : {}),
      });
      sightingIndex = seen.index;
    } catch (err) {
      // Sighted meanwhile by another request or replica.
      if (isLogError(err, "already_exists")) return { suspectId, alreadyKnown: true };
      throw err;
    }
    return { suspectId, alreadyKnown: false, scan: this.scan(suspect, sightingIndex) };
  }

  /** Steps 3-6 for a sighted suspect. */
  async scan(suspect: SuspectRef, sightingIndex: number): Promise<ScanResult> {
    const suspectId = suspect.suspectId;
    const adapter = this.#o.adapterFor(suspect);
    if (adapter === undefined)
      throw new HubError("failed_precondition", `the hub has no adapter to reach suspect ${suspectId}`);
    const epoch = await this.#o.epochs.current();
    if (epoch === undefined) throw new HubError("failed_precondition", "no current epoch to probe with");
    const eb = batteryOf(epoch);
    const probes = eb.probes.map((p, i): Probe => {
      const kind = KINDS[p.kind] ?? "open";
      return kind === "edge"
        ? { id: String(i), kind, prompt: p.prompt, reference: p.referenceAnswer }
        : { id: String(i), kind, prompt: p.prompt };
    });
    // The suspect is asked only the retrieval part of the battery (lineage-split/v1): members sketch that part
    // alone, and the confirmation probes stay unseen until a session asks them.
    const battery: Battery = splitBattery({ epoch: epoch.epochId, probes }, epoch.epochId).retrieval;
    const progress = (phase: ScanProgress["phase"], done: number, total: number) =>
      this.#o.onProgress?.({ suspectId, phase, done, total });
    const fp = await probeHonouringMaxTokens(
      adapter,
      battery,
      eb.probes,
      this.#o.concurrency ?? 8,
      (done, total) => progress("probing", done, total),
    );
    progress("retrieving", 0, 1);
    const sketch = buildSketch(
      sketchInputsFromFingerprint(battery, fp),
      createSketchContext(epoch.epochKey, epoch.epochId),
    );
    const found = await this.#o.retriever.retrieveCandidates(sketch, {
      limit: this.#o.maxCandidates ?? 10,
      ...(this.#o.minAgreeingBands === undefined ? {} : { minAgreeingBands: this.#o.minAgreeingBands }),
    });
    const candidates = found.map((c) => ({
      model: create(MemberModelRefSchema, {
        memberId: c.model.memberId,
        modelId: c.model.modelId,
        modelVersion: c.model.modelVersion,
      }),
      score: c.score,
      similarity: c.similarity,
      coarse: c.coarseAgreeingBands,
    }));
    const perMember = new Map<string, number>();
    for (const c of candidates) perMember.set(c.model.memberId, (perMember.get(c.model.memberId) ?? 0) + 1);
    progress("sessions", 0, candidates.length);
    let finished = 0;
    const sessions = await Promise.all(
      candidates.map(async (c) => {
        try {
          return await this.#o.sessions.open({
            suspect,
            candidate: c.model,
            epochId: epoch.epochId,
            comparisons: perMember.get(c.model.memberId) ?? 1,
          });
        } catch (err) {
          return {
            error: `${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}`.slice(0, 512),
            model: c.model,
          };
        } finally {
          progress("sessions", ++finished, candidates.length);
        }
      }),
    );
    progress("done", 1, 1);
    return {
      suspectId,
      sightingIndex,
      probes: battery.probes.length,
      candidates: candidates.map((c) => ({ model: c.model, score: c.score })),
      sessions,
    };
  }
}

/**
 * Probes `battery` honouring each battery probe's max_tokens (0: the engine's default for its kind), as the
 * epoch's battery states them: probes are asked in groups of equal max_tokens (usually one group) and
 * their responses merged into one fingerprint.
 */
export async function probeHonouringMaxTokens(
  adapter: ModelAdapter,
  battery: Battery,
  stated: readonly { readonly maxTokens: number }[],
  concurrency: number,
  onProgress: (done: number, total: number) => void,
): Promise<Fingerprint> {
  const groups = new Map<number, Probe[]>();
  for (const p of battery.probes) {
    const max = stated[Number(p.id)]?.maxTokens ?? 0;
    const g = groups.get(max);
    if (g === undefined) groups.set(max, [p]);
    else g.push(p);
  }
  const total = battery.probes.length;
  let before = 0;
  let merged: Fingerprint | undefined;
  for (const [max, probes] of groups) {
    const base = before;
    const fp = await probeModel(
      adapter,
      { epoch: battery.epoch, probes },
      {
        concurrency,
        ...(max > 0 ? { maxTokens: max } : {}),
        onProgress: (p) => onProgress(base + p.done, total),
      },
    );
    before += probes.length;
    merged =
      merged === undefined
        ? { ...fp, queries: total }
        : { ...merged, responses: { ...merged.responses, ...fp.responses } };
  }
  if (merged === undefined)
    throw new HubError("failed_precondition", "the epoch battery has no retrieval probes");
  return merged;
}
