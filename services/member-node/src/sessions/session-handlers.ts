/**
 * The gRPC handlers of canary sets and match sessions (member_node_service.proto): ImportCanarySet and
 * GetCanaryExposure (local admin), RunMatchSession (the hub, server-streaming: progress, then exactly one
 * answer), and the same session over NATS request-reply on `lineage.session.<member>.request`.
 * Requests are untrusted; failures are MemberNodeErrors whose codes libs/rpc maps to gRPC status (forged or
 * missing signature -> UNAUTHENTICATED, replay -> ALREADY_EXISTS, unknown session/model -> NOT_FOUND,
 * malformed/oversized -> INVALID_ARGUMENT). Every message the node sends is member-signed and carries
 * counts only.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  DiscloseSessionRequestSchema,
  GetCanaryExposureRequestSchema,
  ImportCanarySetRequestSchema,
  type MatchSessionProgress,
  type MemberNode,
  RunMatchSessionRequestSchema,
  RunMatchSessionResponseSchema,
  SessionMessageSchema,
  VerifyDisclosureRequestSchema,
} from "@lineage/api";
import { type Bus, BusError, type BusErrorCode, type BusSubscription } from "@lineage/bus";
import { ed25519NoteVerifier, KeyRing } from "@lineage/crypto";
import type { ServiceImpl } from "@lineage/rpc";
import { readCanaryPairsFile } from "../canaries/canary-file.js";
import { CanarySets, checkCommitmentId } from "../canaries/canary-sets.js";
import type { HubLogTrust } from "../canaries/hub-log.js";
import { checkAuditorPublicKey, sealDisclosureEnvelope } from "../disclosure/disclosure-envelope.js";
import { buildDisclosurePackage } from "../disclosure/disclosure-package.js";
import { parseSeedWitnesses } from "../disclosure/seed-witnesses.js";
import { HubKeyView, nodeMetaRootStore } from "../hub-key-view.js";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { isMemberNodeError, MemberNodeError } from "../member-node-error.js";
import { watermarkHandlers } from "../watermark/watermark-handlers.js";
import { WatermarkKeys } from "../watermark/watermark-keys.js";
import { MatchSessions, type SessionModels } from "./match-sessions.js";
import { HeaderNonces, verifyHubHeader } from "./session-request.js";

/** Handlers of ImportCanarySet and GetCanaryExposure. */
export function canaryHandlers(
  deps: MemberNodeDeps,
  canaries: CanarySets,
): Pick<ServiceImpl<typeof MemberNode>, "importCanarySet" | "getCanaryExposure"> {
  return {
    async importCanarySet(req, ctx) {
      const who = await deps.admin.check(ctx, ImportCanarySetRequestSchema, req);
      const id = checkCommitmentId(req.commitmentId);
      if (req.sourcePath.length === 0 || req.sourcePath.length > 4096)
        throw new MemberNodeError("invalid_argument", "source_path must be 1..4096 characters");
      const pairs = await readCanaryPairsFile(req.sourcePath);
      await canaries.import(id, pairs);
      const committed = await canaries.commit(id, ctx.signal);
      try {
        await canaries.learnLabels(id, ctx.signal);
      } catch (err) {
        // No checkpoint covers the commitment yet: the labels are learned before the first session uses it.
        if (!isMemberNodeError(err, "not_found")) throw err;
      }
      deps.logger.info("canary_set_committed", {
        commitment_id: id,
        pairs: committed.pairs,
        log_index: Number(committed.ref.logIndex),
        by: who,
      });
      return { commitment: committed.ref, canaryCount: BigInt(committed.pairs), logEntry: committed.entry };
    },
    async getCanaryExposure(req, ctx) {
      await deps.admin.check(ctx, GetCanaryExposureRequestSchema, req);
      return { exposures: await canaries.exposure(req.commitmentIds) };
    },
  };
}

/** A small async queue: the session pushes progress, the stream pulls it. */
function channel<T>() {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  return {
    push(x: T) {
      items.push(x);
      wake?.();
    },
    close() {
      done = true;
      wake?.();
    },
    async *drain(): AsyncGenerator<T> {
      for (;;) {
        while (items.length > 0) yield items.shift() as T;
        if (done) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    },
  };
}

/**
 * The hub keys a request header may be signed with: the configured ones and, when the node reads the hub's key
 * history from the log (hub-key-view.ts), the sessions key the log makes current — synced first when the header
 * names a key the node does not know yet (the hub delegated or rotated its sessions key).
 */
async function hubHeaderKeys(deps: MemberNodeDeps, sessions: MatchSessions, keyId: string): Promise<KeyRing> {
  const { view, trust } = sessions.hubKeys;
  if (view === undefined || deps.hub === undefined || deps.hubKeys.get(keyId) !== undefined)
    return deps.hubKeys;
  if (view.currentKey("sessions")?.keyId !== keyId) await view.sync(deps.hub, trust);
  const current = view.currentKey("sessions");
  return current === undefined ? deps.hubKeys : new KeyRing([...deps.hubKeys.keys(), current]);
}

/** Handler of RunMatchSession. */
export function sessionHandlers(
  deps: MemberNodeDeps,
  sessions: MatchSessions,
): Pick<ServiceImpl<typeof MemberNode>, "runMatchSession"> {
  const nonces = new HeaderNonces(deps.store);
  return {
    async *runMatchSession(req, ctx) {
      const keys = await hubHeaderKeys(deps, sessions, req.header?.keyId ?? "");
      verifyHubHeader(RunMatchSessionRequestSchema, req, keys, deps.clock());
      await nonces.remember(req.header as NonNullable<typeof req.header>, deps.clock());
      const ch = channel<MatchSessionProgress>();
      let failure: unknown;
      let answer: Awaited<ReturnType<MatchSessions["run"]>> | undefined;
      const running = sessions
        .run(req.session, (p) => ch.push(p), ctx.signal)
        .then((a) => {
          answer = a;
        })
        .catch((err) => {
          failure = err;
        })
        .finally(() => ch.close());
      for await (const p of ch.drain()) {
        yield await deps.signer.sign(
          RunMatchSessionResponseSchema,
          create(RunMatchSessionResponseSchema, { event: { case: "progress", value: p } }),
        );
      }
      await running;
      if (failure !== undefined) throw failure;
      yield await deps.signer.sign(
        RunMatchSessionResponseSchema,
        create(RunMatchSessionResponseSchema, {
          event: { case: "answer", value: answer as NonNullable<typeof answer> },
        }),
      );
    },
  };
}

/**
 * The bus error a refused session message is answered with: only a code crosses NATS (libs/bus), and the
 * bus has fewer codes than gRPC — a replay is `conflict`, an unknown session `not_found`, a bad signature or
 * any other refusal of the message `invalid_argument`.
 */
function busErrorOf(err: unknown): BusError {
  if (err instanceof BusError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const mapped: BusErrorCode =
    code === "already_exists"
      ? "conflict"
      : code === "not_found"
        ? "not_found"
        : code === "too_large"
          ? "too_large"
          : code === "unavailable"
            ? "unavailable"
            : isMemberNodeError(err)
              ? "invalid_argument"
              : "internal";
  return new BusError(mapped, "session message refused", { cause: err });
}

/** NATS subject the hub sends a member's session requests to. */
export function sessionRequestSubject(memberId: string): string {
  return `lineage.session.${memberId}.request`;
}

/**
 * Serves match sessions over NATS request-reply: a hub-signed SessionMessage{request} in, a member-signed
 * SessionMessage{answer} out (the requester sets a timeout long enough for the session; a retry after a
 * timeout gets the stored answer). Failures reply with the error's code only (libs/bus).
 */
export async function serveSessionsOnBus(
  bus: Bus,
  deps: MemberNodeDeps,
  sessions: MatchSessions,
  maxPayloadBytes = 1 << 20,
): Promise<BusSubscription> {
  const nonces = new HeaderNonces(deps.store);
  return bus.serve(sessionRequestSubject(deps.memberId), async (msg) => {
    try {
      return await answerOnBus(msg.data);
    } catch (err) {
      throw busErrorOf(err);
    }
  });

  async function answerOnBus(data: Uint8Array): Promise<Uint8Array> {
    if (data.length > maxPayloadBytes)
      throw new MemberNodeError("malformed", "the session message is too large");
    let m: ReturnType<typeof fromBinary<typeof SessionMessageSchema>>;
    try {
      m = fromBinary(SessionMessageSchema, data);
    } catch (cause) {
      throw new MemberNodeError("malformed", "the session message is not an encoded SessionMessage", {
        cause,
      });
    }
    const keys = await hubHeaderKeys(deps, sessions, m.header?.keyId ?? "");
    verifyHubHeader(SessionMessageSchema, m, keys, deps.clock());
    await nonces.remember(m.header as NonNullable<typeof m.header>, deps.clock());
    if (m.body.case !== "request")
      throw new MemberNodeError("malformed", "the session message carries no request");
    const answer = await sessions.run(m.body.value);
    const reply = await deps.signer.sign(
      SessionMessageSchema,
      create(SessionMessageSchema, { body: { case: "answer", value: answer } }),
    );
    return toBinary(SessionMessageSchema, reply);
  }
}

/** What canary sets and match sessions need beyond {@link MemberNodeDeps}. */
export interface MatchOptions {
  /** The hub's log: origin and note verifier (checkpoints, inclusion proofs). */
  readonly hubLog: HubLogTrust;
  /** Where the node reaches the suspect, its own models, the panel and the battery. */
  readonly models: SessionModels;
  /** Reuse policy: distinct suspects one canary item may be sent to (default 3). */
  readonly maxSuspectsPerCanary?: number;
  /** Queries in flight per model (default 8). */
  readonly concurrency?: number;
  /** Sessions binding a watermark key also run the extra watermark queries (default true). */
  readonly watermarkQueries?: boolean;
}

/** The canary, session and disclosure services of a node. */
export interface MatchServices {
  readonly canaries: CanarySets;
  readonly sessions: MatchSessions;
  readonly watermarks: WatermarkKeys;
  readonly hubLog: HubLogTrust;
}

/** The canary and session services of a node, built once from its deps. */
export function matchServices(deps: MemberNodeDeps, options: MatchOptions): MatchServices {
  let view: HubKeyView | null | undefined;
  // The log trust every service opens checkpoints with: the configured root, and the root rotations the key
  // view followed from the log (hub-key-view.ts), so the node keeps reading the log after the hub rotates it.
  const configured = options.hubLog;
  const hubLog: HubLogTrust = {
    get origin() {
      return configured.origin;
    },
    get verifier() {
      return configured.verifier;
    },
    get rotations() {
      return view?.rotations ?? configured.rotations ?? [];
    },
  };
  const canaries = new CanarySets({
    memberId: deps.memberId,
    store: deps.store,
    signingKey: deps.signingKey,
    hub: deps.hub,
    hubLog,
    signer: deps.signer,
    clock: deps.clock,
    ...(options.maxSuspectsPerCanary === undefined
      ? {}
      : { maxSuspectsPerCanary: options.maxSuspectsPerCanary }),
  });
  const watermarks = new WatermarkKeys({
    memberId: deps.memberId,
    store: deps.store,
    signingKey: deps.signingKey,
    hub: deps.hub,
    hubLog,
    signer: deps.signer,
    clock: deps.clock,
  });
  // The configured key that signs the log's checkpoints is the hub's root: the key history is read from it.
  // A node whose hub has not answered yet (node-match.ts: the trust is learned in the background) has no
  // origin to match yet: the view is built on first use once the trust is known (configured keys only until
  // then), so the node serves meanwhile and still learns the hub's keys from the log afterwards.
  const hubKeyView = (): HubKeyView | undefined => {
    if (view === undefined) {
      let trust: HubLogTrust;
      try {
        trust = { origin: configured.origin, verifier: configured.verifier };
      } catch (err) {
        if (!isMemberNodeError(err, "unavailable")) throw err;
        return undefined; // not learned yet
      }
      const root = [...deps.hubKeys.keys()].find((k) => {
        const v = ed25519NoteVerifier(trust.origin, k);
        return v.keyId === trust.verifier.keyId && v.name === trust.verifier.name;
      });
      view =
        root === undefined
          ? null
          : new HubKeyView(root, trust.origin, { roots: nodeMetaRootStore(deps.store, trust.origin) });
    }
    return view ?? undefined;
  };
  const sessions = new MatchSessions({
    memberId: deps.memberId,
    store: deps.store,
    signingKey: deps.signingKey,
    hub: deps.hub,
    hubLog,
    hubKeys: deps.hubKeys,
    hubKeyView,
    canaries,
    watermarks,
    models: options.models,
    clock: deps.clock,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.watermarkQueries === false ? { watermarkQueries: false } : {}),
  });
  return { canaries, sessions, watermarks, hubLog };
}

/** ImportCanarySet, GetCanaryExposure and RunMatchSession over one set of services. */
export function matchHandlers(
  deps: MemberNodeDeps,
  services: MatchServices,
): Pick<
  ServiceImpl<typeof MemberNode>,
  | "importCanarySet"
  | "getCanaryExposure"
  | "runMatchSession"
  | "discloseSession"
  | "importWatermarkKey"
  | "commitWatermarkKey"
> {
  return {
    ...canaryHandlers(deps, services.canaries),
    ...watermarkHandlers(deps, services.watermarks),
    ...sessionHandlers(deps, services.sessions),
    async discloseSession(req, ctx) {
      const who = await deps.admin.check(ctx, DiscloseSessionRequestSchema, req);
      // Before anything is read from the log: a key no package can be sealed to (size, low order).
      checkAuditorPublicKey(req.auditorPublicKey);
      const witnesses = parseSeedWitnesses(req.witnessKeys, req.witnessQuorum);
      const pkg = await buildDisclosurePackage(
        { store: deps.store, hub: deps.hub, hubLog: services.hubLog, canaries: services.canaries },
        req.sessionId,
        ctx.signal,
        witnesses,
      );
      const sealed = sealDisclosureEnvelope(
        toBinary(VerifyDisclosureRequestSchema, pkg),
        req.auditorPublicKey,
      );
      const index = pkg.bundle?.attestation?.entry?.index ?? 0n;
      deps.logger.info("session_disclosed", {
        session_id: req.sessionId,
        attestation_index: Number(index),
        pairs: pkg.disclosure?.pairs.length ?? 0,
        seed: witnesses === undefined ? "v1" : "witnessed-v2",
        by: who,
      });
      return {
        sealedPackage: sealed,
        attestationIndex: index,
        sampleSize: pkg.disclosure?.pairs.length ?? 0,
      };
    },
  };
}
