/**
 * The hub's membership and commitment write RPCs (issue 8, "writers go through the running hub"; issue
 * 10, Membership): EnrolMember, AddMemberKey, RevokeMemberKey, SetMemberStatus, LogCanaryCommitment,
 * and the reads GetMember, ListMembers. One hub process owns the log, so `lineage hub members ...` and
 * member nodes write through it instead of opening the log themselves (which forked it).
 *
 * Every write is checked where it arrives, in this order, each failure with its own code (libs/rpc's
 * table gives the gRPC status):
 *   1. the signed header (request-header.ts): missing/forged → UNAUTHENTICATED, replayed → ALREADY_EXISTS,
 *      unknown member → NOT_FOUND, malformed → INVALID_ARGUMENT;
 *   2. who may ask: the secretariat enrols and sets status; a key change is asked by the member itself or
 *      the secretariat; a commitment only by its own member → PERMISSION_DENIED otherwise;
 *   3. the member-signed record: present, of the right type, within its size cap, decodable, and saying
 *      what the request says (INVALID_ARGUMENT) — the record, not the request fields, is what is logged;
 *   4. the log's own admission (transparency-log.ts, member-registry.ts): who must have signed the record
 *      (the hub cannot add, rotate or revoke a member's key alone), key validity by log position, no
 *      backdated revocation, no second enrolment or commitment id (ALREADY_EXISTS).
 * Tests: services/hub/test/membership-service.test.ts.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AddMemberKeyRequestSchema,
  type DsseEnvelope as DsseEnvelopeProto,
  EnrolMemberRequestSchema,
  type Hub,
  KeyAlgorithm,
  LogCanaryCommitmentRequestSchema,
  type MemberKey,
  MemberStatus,
  MembershipAction,
  type MembershipRecord,
  MembershipRecordSchema,
  RevokeMemberKeyRequestSchema,
  SetMemberStatusRequestSchema,
} from "@lineage/api";
import { bytesEqual, type DsseEnvelope } from "@lineage/crypto";
import { RpcError, type ServiceImpl } from "@lineage/rpc";
import { envelopeFromProto, LOG_DSSE_LIMITS, MAX_PAYLOAD_BYTES, PAYLOAD_TYPES } from "../log/log-leaf.js";
import { commitmentOfEnvelope } from "../log/log-state.js";
import type { LoggedKey, LoggedMember } from "../log/member-registry.js";
import type { AppendedEntry, TransparencyLog } from "../log/transparency-log.js";
import { RequestAuthenticator, type RequestSender, SECRETARIAT } from "./request-header.js";

/** The membership handlers; spread them into the hub's full `ServiceImpl<typeof Hub>`. */
export type MembershipHandlers = Pick<
  ServiceImpl<typeof Hub>,
  | "enrolMember"
  | "addMemberKey"
  | "revokeMemberKey"
  | "setMemberStatus"
  | "getMember"
  | "listMembers"
  | "logCanaryCommitment"
>;

/** Options of {@link membershipHandlers}. */
export interface MembershipServiceOptions {
  readonly log: TransparencyLog;
  /** Header verification and replay guard (default: one over `log`, 5-minute skew). */
  readonly auth?: RequestAuthenticator;
  /** Clock (ms) of the hub's own records (SetMemberStatus). */
  readonly now?: () => number;
}

const MEMBER_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const COMMITMENT_TYPES: ReadonlySet<string> = new Set([
  PAYLOAD_TYPES.commitment,
  PAYLOAD_TYPES.watermarkCommitment,
  PAYLOAD_TYPES.referenceFingerprint,
]);
const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;

function invalid(message: string): RpcError {
  return new RpcError("invalid_argument", message);
}

/**
 * The envelope of a request field, bounded before anything is decoded (untrusted input): present, of
 * one of `types`, payload within the kind's cap, at most the log's signature count.
 */
function envelopeOf(
  env: DsseEnvelopeProto | undefined,
  field: string,
  types: ReadonlySet<string>,
): DsseEnvelope {
  if (env === undefined) throw invalid(`${field} is missing`);
  if (!types.has(env.payloadType)) {
    throw invalid(`${field} payload_type must be one of ${[...types].join(", ")}`);
  }
  const cap = MAX_PAYLOAD_BYTES[env.payloadType as keyof typeof MAX_PAYLOAD_BYTES];
  if (env.payload.length > cap)
    throw invalid(`${field} payload is ${env.payload.length} bytes, limit ${cap}`);
  if (env.signatures.length === 0) throw new RpcError("unauthenticated", `${field} carries no signature`);
  if (env.signatures.length > LOG_DSSE_LIMITS.maxSignatures) {
    throw invalid(`${field} carries more than ${LOG_DSSE_LIMITS.maxSignatures} signatures`);
  }
  return envelopeFromProto(env);
}

function membershipOf(env: DsseEnvelopeProto | undefined, action: MembershipAction, name: string) {
  const envelope = envelopeOf(env, "record", new Set([PAYLOAD_TYPES.membership]));
  let record: MembershipRecord;
  try {
    record = fromBinary(MembershipRecordSchema, envelope.payload);
  } catch (cause) {
    throw new RpcError("malformed", "record payload is not a MembershipRecord", { cause });
  }
  if (record.action !== action) throw invalid(`record is not a ${name} record`);
  return { envelope, record };
}

function checkMemberId(memberId: string): void {
  if (!MEMBER_ID_RE.test(memberId)) throw invalid("member_id must match [a-z0-9][a-z0-9-]{0,63}");
}

/** The request's key, when given, must be the record's (what is logged is the record). */
function sameKey(requestKey: MemberKey | undefined, record: MembershipRecord): void {
  if (requestKey === undefined) return;
  const k = record.key;
  if (k === undefined || requestKey.keyId !== k.keyId || !bytesEqual(requestKey.publicKey, k.publicKey)) {
    throw invalid("key is not the record's key");
  }
}

function requireSecretariat(sender: RequestSender, what: string): void {
  if (sender.memberId !== SECRETARIAT) {
    throw new RpcError("permission_denied", `only the secretariat (header member_id "hub") may ${what}`);
  }
}

function requireSelfOrSecretariat(sender: RequestSender, memberId: string): void {
  if (sender.memberId !== SECRETARIAT && sender.memberId !== memberId) {
    throw new RpcError("permission_denied", `${sender.memberId} may not change the keys of ${memberId}`);
  }
}

function keyProto(k: LoggedKey) {
  return {
    keyId: k.keyId,
    algorithm: KeyAlgorithm.ED25519,
    publicKey: k.publicKey.raw,
    notBefore: timestampFromMs(k.notBeforeMs),
    ...(k.notAfterMs === undefined ? {} : { notAfter: timestampFromMs(k.notAfterMs) }),
    ...(k.revokedAtMs === undefined ? {} : { revokedAt: timestampFromMs(k.revokedAtMs) }),
  };
}

const STATUS = {
  active: MemberStatus.ACTIVE,
  suspended: MemberStatus.SUSPENDED,
  removed: MemberStatus.REMOVED,
};

/** A member as the Member message (member.proto): at most the 64 newest keys. */
export function memberProto(m: LoggedMember, keys: readonly LoggedKey[]) {
  return {
    memberId: m.memberId,
    displayName: m.displayName,
    keys: keys.slice(-64).map(keyProto),
    status: STATUS[m.status],
    enrolledAt: timestampFromMs(m.enrolledAtMs),
    enrolmentLogIndex: BigInt(m.enrolledAtIndex),
  };
}

function entryRef(e: AppendedEntry) {
  return { index: BigInt(e.index), leafHash: e.leafHash };
}

/** Builds the membership handlers over `options.log`. */
export function membershipHandlers(options: MembershipServiceOptions): MembershipHandlers {
  const log = options.log;
  const auth = options.auth ?? new RequestAuthenticator({ log });
  const now = options.now ?? Date.now;

  const memberNow = (memberId: string) => {
    const m = log.member(memberId);
    if (m === undefined) throw new RpcError("unknown_member", `member ${memberId} is not enrolled`);
    return memberProto(m, log.memberKeys(memberId));
  };

  /** The member must be enrolled (unknown → NOT_FOUND before the record's signatures are judged). */
  const requireMember = async (memberId: string) => {
    if (log.member(memberId) === undefined) await log.refresh();
    if (log.member(memberId) === undefined) {
      throw new RpcError("unknown_member", `member ${memberId} is not enrolled`);
    }
  };

  return {
    async enrolMember(req) {
      requireSecretariat(await auth.verify(EnrolMemberRequestSchema, req), "enrol a member");
      checkMemberId(req.memberId);
      const { envelope, record } = membershipOf(req.record, MembershipAction.ENROL, "ENROL");
      if (record.memberId !== req.memberId) throw invalid("member_id is not the record's member_id");
      if (req.displayName !== "" && req.displayName !== record.displayName) {
        throw invalid("display_name is not the record's display_name");
      }
      sameKey(req.key, record);
      const entry = await log.appendMembership(envelope);
      return { member: memberNow(record.memberId), logEntry: entryRef(entry) };
    },

    async addMemberKey(req) {
      const sender = await auth.verify(AddMemberKeyRequestSchema, req);
      checkMemberId(req.memberId);
      requireSelfOrSecretariat(sender, req.memberId);
      await requireMember(req.memberId);
      const { envelope, record } = membershipOf(req.record, MembershipAction.ADD_KEY, "ADD_KEY");
      if (record.memberId !== req.memberId) throw invalid("member_id is not the record's member_id");
      sameKey(req.key, record);
      const entry = await log.appendMembership(envelope);
      return { member: memberNow(record.memberId), logEntry: entryRef(entry) };
    },

    async revokeMemberKey(req) {
      const sender = await auth.verify(RevokeMemberKeyRequestSchema, req);
      checkMemberId(req.memberId);
      requireSelfOrSecretariat(sender, req.memberId);
      await requireMember(req.memberId);
      const { envelope, record } = membershipOf(req.record, MembershipAction.REVOKE_KEY, "REVOKE_KEY");
      if (record.memberId !== req.memberId) throw invalid("member_id is not the record's member_id");
      if (record.key?.keyId !== req.keyId) throw invalid("key_id is not the record's key");
      const at = record.key?.revokedAt;
      if (
        req.revokedAt !== undefined &&
        (at === undefined || at.seconds !== req.revokedAt.seconds || at.nanos !== req.revokedAt.nanos)
      ) {
        throw invalid("revoked_at is not the record's revoked_at");
      }
      if (req.reason !== "" && req.reason !== record.reason)
        throw invalid("reason is not the record's reason");
      const entry = await log.appendMembership(envelope);
      return { member: memberNow(record.memberId), logEntry: entryRef(entry) };
    },

    async setMemberStatus(req) {
      requireSecretariat(await auth.verify(SetMemberStatusRequestSchema, req), "suspend or remove a member");
      checkMemberId(req.memberId);
      if (
        req.action !== MembershipAction.SUSPEND &&
        req.action !== MembershipAction.REINSTATE &&
        req.action !== MembershipAction.REMOVE
      ) {
        throw invalid("action must be SUSPEND, REINSTATE or REMOVE");
      }
      if (req.reason.length === 0 || req.reason.length > 512)
        throw invalid("reason must be 1..512 characters");
      await requireMember(req.memberId);
      const entry = await log.appendMembership({
        action: req.action,
        memberId: req.memberId,
        effectiveAt: timestampFromMs(now()),
        reason: req.reason,
      });
      return { member: memberNow(req.memberId), logEntry: entryRef(entry) };
    },

    async getMember(req) {
      checkMemberId(req.memberId);
      await log.refresh();
      return { member: memberNow(req.memberId) };
    },

    async listMembers(req) {
      if (req.pageSize > MAX_PAGE) throw invalid(`page_size must be at most ${MAX_PAGE}`);
      const size = req.pageSize === 0 ? DEFAULT_PAGE : req.pageSize;
      let after = -1;
      if (req.pageToken !== "") {
        if (!/^\d{1,16}$/.test(req.pageToken)) throw invalid("page_token is not a token this hub issued");
        after = Number(req.pageToken);
      }
      await log.refresh();
      const all = log
        .members()
        .filter((m) => m.enrolledAtIndex > after)
        .sort((a, b) => a.enrolledAtIndex - b.enrolledAtIndex);
      const page = all.slice(0, size);
      const last = page[page.length - 1];
      return {
        members: page.map((m) => memberProto(m, log.memberKeys(m.memberId))),
        nextPageToken: all.length > size && last !== undefined ? String(last.enrolledAtIndex) : "",
      };
    },

    async logCanaryCommitment(req) {
      const sender = await auth.verify(LogCanaryCommitmentRequestSchema, req);
      if (sender.memberId === SECRETARIAT) {
        throw new RpcError("permission_denied", "commitments are logged by the member that made them");
      }
      const envelope = envelopeOf(req.commitment, "commitment", COMMITMENT_TYPES);
      let memberId: string;
      try {
        memberId = commitmentOfEnvelope(envelope).memberId;
      } catch (cause) {
        throw new RpcError("malformed", "commitment payload does not decode as its payload type", { cause });
      }
      if (memberId !== sender.memberId) {
        throw new RpcError("permission_denied", `${sender.memberId} may not log a commitment of ${memberId}`);
      }
      const entry = await log.appendCommitment(envelope);
      const cp = await log.checkpoint();
      const hashes = await log.inclusionProof(entry.index, cp.treeSize);
      return {
        logEntry: entryRef(entry),
        inclusionProof: { leafIndex: BigInt(entry.index), treeSize: BigInt(cp.treeSize), hashes },
        checkpoint: { signedNote: new TextEncoder().encode(cp.note) },
      };
    },
  };
}
