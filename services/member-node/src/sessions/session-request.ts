/**
 * Admission of a hub session request (DESIGN.md flow 5; "The match protocol", step 2), before anything is
 * stored or any query is spent. The request is untrusted network input:
 *   1. size: the encoded request is bounded (`malformed` -> INVALID_ARGUMENT);
 *   2. header: the hub-signed SignedHeader over the message (domain = its protobuf name, payload = the
 *      message with `header` unset) must verify under a hub key (`bad_signature` -> UNAUTHENTICATED) and be
 *      fresh; a header nonce seen before is a replay (`already_exists`);
 *   3. session: `checkSessionRequest` — the hub-signed SessionOpened agrees with the request, the deadline
 *      has not passed, this member's model, a registered policy, commitments before the first sighting;
 *   4. logged: the SessionOpened envelope is the leaf at `session_index` of the hub's log, proved by an
 *      inclusion proof against a hub-signed checkpoint (hub-log.ts);
 *   5. the canary commitment the session binds is this node's, logged where the session says, and the entry
 *      at first_seen_index is this suspect's sighting (so the ordering it vouches for is the log's).
 */
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  LogEntryKind,
  type MatchSessionRequest,
  MatchSessionRequestSchema,
  SessionOpenedSchema,
  type SignedHeader,
  type SuspectSighting,
  SuspectSightingSchema,
} from "@lineage/api";
import { bytesEqual, type KeyRing, signedMessageBytes } from "@lineage/crypto";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import type { LoggedSessionRef } from "../attestation.js";
import { type HubLogClient, type HubLogTrust, verifiedEntry } from "../canaries/hub-log.js";
import type { HubKeyView } from "../hub-key-view.js";
import { MemberNodeError } from "../member-node-error.js";
import { checkSessionRequest } from "../session-check.js";

/** Largest encoded session request accepted. */
export const MAX_SESSION_REQUEST_BYTES = 1 << 20;
/** Largest accepted |issued_at - now| of a hub header. */
export const HUB_HEADER_SKEW_MS = 5 * 60_000;
/** Sender id the hub signs headers with. */
export const HUB_SENDER = "hub";

/**
 * Verifies a hub-signed header over `message` (module header, step 2). Throws `unauthenticated` for a
 * missing header, `bad_signature` for one that does not verify, `stale` outside the skew window.
 */
export function verifyHubHeader<D extends DescMessage>(
  schema: D,
  message: MessageShape<D> & { header?: SignedHeader | undefined },
  hubKeys: KeyRing,
  nowMs: number,
): SignedHeader {
  const h = message.header;
  if (h === undefined)
    throw new MemberNodeError("unauthenticated", "the request carries no hub-signed header");
  if (h.memberId !== HUB_SENDER)
    throw new MemberNodeError("bad_signature", "the request header is not the hub's");
  const key = hubKeys.get(h.keyId);
  if (key === undefined) throw new MemberNodeError("bad_signature", "the request is not signed by a hub key");
  let bytes: Uint8Array;
  try {
    const unsigned = { ...(message as object), header: undefined } as unknown as MessageShape<D>;
    bytes = signedMessageBytes(
      schema.typeName,
      { memberId: h.memberId, sequence: h.sequence, nonce: h.nonce, issuedAtMs: Number(h.issuedAtMs) },
      toBinary(schema, unsigned),
    );
  } catch (cause) {
    throw new MemberNodeError("malformed", "the request header is malformed", { cause });
  }
  if (!key.verify(bytes, h.signature))
    throw new MemberNodeError("bad_signature", "the request's hub signature does not verify");
  if (Math.abs(Number(h.issuedAtMs) - nowMs) > HUB_HEADER_SKEW_MS)
    throw new MemberNodeError("stale", "the request header is outside the clock-skew window");
  return h;
}

/**
 * Remembers hub header nonces while a header could still pass the skew check: a header seen twice is a
 * replay. Kept in the node's database (`seen_nonces`, migration 0006), so a replay right after a restart,
 * or to another process on the same database, is refused too; the check and the insert are one statement.
 */
export class HeaderNonces {
  readonly #store: Store<MemberNodeDatabase>;
  #purgedAt = Number.NEGATIVE_INFINITY;

  constructor(store: Store<MemberNodeDatabase>) {
    this.#store = store;
  }

  /** `already_exists` when the nonce was accepted before and has not expired. */
  async remember(h: SignedHeader, nowMs: number): Promise<void> {
    if (h.nonce.length < 1 || h.nonce.length > 64)
      throw new MemberNodeError("malformed", "the request header nonce must be 1..64 bytes");
    const expires = Math.max(Number(h.issuedAtMs), nowMs) + 2 * HUB_HEADER_SKEW_MS;
    if (!(await rememberNonce(this.#store, "hub-header", h.nonce, nowMs, expires)))
      throw new MemberNodeError("already_exists", "the request header was replayed");
    if (nowMs - this.#purgedAt > HUB_HEADER_SKEW_MS) {
      this.#purgedAt = nowMs;
      await forgetExpiredNonces(this.#store, nowMs);
    }
  }
}

/**
 * Records `nonce` under `scope` until `expiresAtMs`; false when it is already recorded and not expired (a
 * replay). An expired record of the same nonce is taken over in the same statement.
 */
export async function rememberNonce(
  store: Store<MemberNodeDatabase>,
  scope: "hub-header" | "admin",
  nonce: Uint8Array,
  nowMs: number,
  expiresAtMs: number,
): Promise<boolean> {
  const row = await store.db
    .insertInto("seen_nonces")
    .values({ scope, nonce, expires_at_ms: BigInt(Math.ceil(expiresAtMs)) })
    .onConflict((oc) =>
      oc
        .columns(["scope", "nonce"])
        .doUpdateSet({ expires_at_ms: (eb) => eb.ref("excluded.expires_at_ms") })
        .where("seen_nonces.expires_at_ms", "<", BigInt(Math.floor(nowMs))),
    )
    .returning("scope")
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes the nonces whose requests would now be refused as stale anyway. */
export async function forgetExpiredNonces(store: Store<MemberNodeDatabase>, nowMs: number): Promise<void> {
  await store.db
    .deleteFrom("seen_nonces")
    .where("expires_at_ms", "<", BigInt(Math.floor(nowMs)))
    .execute();
}

/** What admission needs. */
export interface AdmitDeps {
  readonly memberId: string;
  readonly store: Store<MemberNodeDatabase>;
  readonly hub: HubLogClient | undefined;
  readonly hubLog: HubLogTrust;
  readonly hubKeys: KeyRing;
  /** The hub key history from the log (hub-key-view.ts): when given, sessions are checked against it. */
  readonly hubKeyView?: HubKeyView | undefined;
  readonly nowMs: number;
  readonly signal?: AbortSignal;
}

/** Steps 1, 3, 4, 5 of the module header for a MatchSessionRequest. Returns the logged session. */
export async function admitSession(
  request: MatchSessionRequest | undefined,
  d: AdmitDeps,
): Promise<LoggedSessionRef> {
  if (request === undefined) throw new MemberNodeError("malformed", "the request carries no session");
  if (toBinary(MatchSessionRequestSchema, request).length > MAX_SESSION_REQUEST_BYTES)
    throw new MemberNodeError("malformed", `the session request exceeds ${MAX_SESSION_REQUEST_BYTES} bytes`);
  if (request.sessionId.length === 0 || request.sessionId.length > 64)
    throw new MemberNodeError("malformed", "session_id must be 1..64 characters");
  if (request.nonce.length !== 32)
    throw new MemberNodeError("malformed", "the session nonce must be 32 bytes");
  if (request.maxQueries < 1 || request.maxQueries > 100_000)
    throw new MemberNodeError("malformed", "max_queries must be in 1..100000");
  const keyId = request.opened?.signatures[0]?.keyid ?? "";
  const view = d.hub === undefined ? undefined : d.hubKeyView;
  if (view !== undefined) await view.sync(d.hub as HubLogClient, d.hubLog, d.signal);
  const hubKey = d.hubKeys.get(keyId) ?? view?.currentKey("sessions");
  if (hubKey === undefined)
    throw new MemberNodeError("bad_signature", "the session is not signed by a hub key");
  const canaryId = opened(request)?.canaryCommitment?.commitmentId;
  let canary: { id: string; root: Uint8Array; logIndex: bigint | null } | undefined;
  if (canaryId !== undefined) {
    const row = await d.store.db
      .selectFrom("canary_sets")
      .select(["merkle_root", "log_index"])
      .where("commitment_id", "=", canaryId)
      .executeTakeFirst();
    if (row === undefined)
      throw new MemberNodeError(
        "not_found",
        `the session binds canary set ${canaryId.slice(0, 64)}, which this node does not hold`,
      );
    canary = { id: canaryId, root: row.merkle_root, logIndex: row.log_index };
  }
  const checked = checkSessionRequest(request, {
    memberId: d.memberId,
    hubKey,
    ...(view === undefined ? {} : { hubKeys: view }),
    nowMs: d.nowMs,
    ...(canary === undefined ? {} : { canaryCommitment: { id: canary.id, root: canary.root } }),
  });
  if (canary !== undefined && canary.logIndex !== checked.opened.canaryCommitment?.logIndex)
    throw new MemberNodeError(
      "session_mismatch",
      "the session names another log index for this node's canary commitment",
    );
  if (d.hub === undefined)
    throw new MemberNodeError(
      "failed_precondition",
      "no hub is configured: the session's log entry cannot be checked",
    );
  const entry = await verifiedEntry(d.hub, d.hubLog, checked.index, d.signal);
  const env = entry.leaf.envelope;
  if (
    entry.leaf.kind !== LogEntryKind.SESSION ||
    env === undefined ||
    env.payloadType !== request.opened?.payloadType ||
    !bytesEqual(env.payload, request.opened.payload)
  )
    throw new MemberNodeError("session_mismatch", `log entry ${checked.index} is not this session`);
  // The ordering checks above trust first_seen_index; the entry there must be this suspect's sighting.
  const firstSeen = checked.opened.firstSeenIndex;
  if (firstSeen > BigInt(Number.MAX_SAFE_INTEGER))
    throw new MemberNodeError("malformed", "first_seen_index is too large");
  const sighting = await verifiedEntry(d.hub, d.hubLog, Number(firstSeen), d.signal);
  let seen: SuspectSighting | undefined;
  try {
    seen =
      sighting.leaf.kind === LogEntryKind.SUSPECT_SIGHTING && sighting.leaf.envelope !== undefined
        ? fromBinary(SuspectSightingSchema, sighting.leaf.envelope.payload)
        : undefined;
  } catch {
    seen = undefined;
  }
  if (seen?.suspect?.suspectId !== checked.opened.suspect?.suspectId)
    throw new MemberNodeError("session_mismatch", `log entry ${firstSeen} is not the suspect's sighting`);
  return checked;
}

function opened(request: MatchSessionRequest) {
  try {
    // Only the commitment id is read here, to look up what to expect; checkSessionRequest verifies the
    // signature before any other field is trusted.
    return request.opened === undefined ? undefined : decodeOpened(request.opened.payload);
  } catch {
    return undefined;
  }
}

function decodeOpened(payload: Uint8Array) {
  return fromBinary(SessionOpenedSchema, payload);
}
