/**
 * Signed request headers of the hub's write RPCs (proto/lineage/v1/signed_header.proto; DESIGN.md
 * "Privacy and trust": every message that crosses a trust boundary is signed and carries member id,
 * sequence/nonce and time; replays and forgeries are rejected with a clear error and counted).
 *
 * The signature is @lineage/crypto's signed message over domain = the request's protobuf type name and
 * payload = the request encoded with its `header` unset. The sender is a member (a key the log
 * established for it, valid now) or the secretariat ("hub", the hub's key). Freshness and replay are
 * the ReplayGuard's (per sender: nonce never seen, sequence increasing, time within the skew).
 *
 * Codes (libs/rpc's one table): no header → `unauthenticated`; a malformed header → `malformed`
 * (INVALID_ARGUMENT); unknown member → `unknown_member` (NOT_FOUND); a key that is not the member's or
 * not valid now → `unknown_key`; a signature that does not verify → `bad_signature` (both
 * UNAUTHENTICATED); a replay → `replay` (ALREADY_EXISTS); a stale time → `stale` (FAILED_PRECONDITION).
 */
import { performance } from "node:perf_hooks";
import { clone, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { SignedHeader } from "@lineage/api";
import {
  type Ed25519PrivateKey,
  isCryptoError,
  KeyRing,
  newNonce,
  ReplayGuard,
  signMessage,
  verifyMessage,
} from "@lineage/crypto";
import { RpcError } from "@lineage/rpc";
import { checkHeaderShape, MEMBER_ID_RE } from "../ingest/signed-header.js";
import { keyValidAt } from "../log/member-registry.js";
import type { TransparencyLog } from "../log/transparency-log.js";

/** Sender id of the secretariat (signs with the hub's membership key). */
export const SECRETARIAT = "hub";

/** A request message that carries a `header`. */
type WithHeader = { header?: SignedHeader | undefined };

/** Who signs a request. */
export interface RequestSigner {
  /** A member id, or {@link SECRETARIAT}. */
  readonly memberId: string;
  readonly key: Ed25519PrivateKey;
}

let lastSequence = 0n;

/**
 * A sequence that increases across the calls of one process and across processes started later: the
 * wall clock in microseconds (a CLI invocation is a new process each time; the hub's replay guard wants
 * each sender's sequence to increase).
 */
export function nextSequence(): bigint {
  const micros = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() * 1000) % 1000));
  lastSequence = micros > lastSequence ? micros : lastSequence + 1n;
  return lastSequence;
}

/** The bytes a header signs: the request encoded without its header. */
function signedPayload<S extends DescMessage>(schema: S, req: MessageShape<S> & WithHeader): Uint8Array {
  const bare = clone(schema, req) as MessageShape<S> & WithHeader;
  bare.header = undefined;
  return toBinary(schema, bare);
}

/** Signs `req` (a created message of `schema`) in place and returns it. */
export function signRequest<S extends DescMessage>(
  schema: S,
  req: MessageShape<S>,
  signer: RequestSigner,
  options: { readonly nowMs?: number; readonly sequence?: bigint } = {},
): MessageShape<S> {
  const r = req as MessageShape<S> & WithHeader;
  const header = {
    memberId: signer.memberId,
    sequence: options.sequence ?? nextSequence(),
    nonce: newNonce(),
    issuedAtMs: options.nowMs ?? Date.now(),
  };
  const signed = signMessage(schema.typeName, header, signedPayload(schema, r), signer.key);
  r.header = {
    $typeName: "lineage.v1.SignedHeader",
    memberId: header.memberId,
    keyId: signer.key.keyId,
    sequence: header.sequence,
    nonce: header.nonce,
    issuedAtMs: BigInt(header.issuedAtMs),
    signature: signed.signature,
  };
  return req;
}

/** Options of {@link RequestAuthenticator}. */
export interface RequestAuthenticatorOptions {
  readonly log: TransparencyLog;
  /** Clock (ms); tests inject one. */
  readonly now?: () => number;
  /** Largest |issued_at - now| accepted (default 5 minutes). */
  readonly maxClockSkewMs?: number;
}

/** Who a verified header says sent the request. */
export interface RequestSender {
  /** A member id or {@link SECRETARIAT}. */
  readonly memberId: string;
  readonly keyId: string;
}

/** Verifies request headers against the keys the log established, with one replay guard per hub process. */
export class RequestAuthenticator {
  readonly #log: TransparencyLog;
  readonly #now: () => number;
  readonly #guard: ReplayGuard;

  constructor(options: RequestAuthenticatorOptions) {
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#guard = new ReplayGuard({
      now: this.#now,
      ...(options.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: options.maxClockSkewMs }),
    });
  }

  /** Headers refused as replays or stale since start (DESIGN.md: rejected and counted). */
  get rejections(): { readonly replay: number; readonly stale: number } {
    return this.#guard.rejections;
  }

  /**
   * Verifies `req`'s header (untrusted input: checked field by field before any key lookup), then
   * records it in the replay guard. Returns the sender.
   */
  async verify<S extends DescMessage>(schema: S, req: MessageShape<S>): Promise<RequestSender> {
    const h = (req as MessageShape<S> & WithHeader).header;
    if (h === undefined) throw new RpcError("unauthenticated", `${schema.name} needs a signed header`);
    checkHeaderShape(h, schema.name);
    if (h.memberId !== SECRETARIAT && !MEMBER_ID_RE.test(h.memberId)) {
      throw new RpcError("malformed", 'header member_id must be "hub" or match [a-z0-9][a-z0-9-]{0,63}');
    }
    const nowMs = this.#now();
    let ring: KeyRing;
    if (h.memberId === SECRETARIAT) {
      // The secretariat's requests are signed by the hub's membership key (docs/specs/hub-keys.md): the one the
      // log delegated, or the root while membership was never delegated.
      ring = new KeyRing([this.#log.purposePublicKeys.membership]);
    } else {
      if (this.#log.memberKey(h.keyId) === undefined || this.#log.member(h.memberId) === undefined) {
        await this.#log.refresh(); // another hub process may have logged it
      }
      if (this.#log.member(h.memberId) === undefined) {
        throw new RpcError("unknown_member", `member ${h.memberId} is not enrolled`);
      }
      const key = this.#log.memberKey(h.keyId);
      if (key === undefined || key.memberId !== h.memberId) {
        throw new RpcError("unknown_key", `header key ${h.keyId} is not a logged key of ${h.memberId}`);
      }
      if (!keyValidAt(key, nowMs) || key.revokedAtIndex !== undefined) {
        throw new RpcError("unknown_key", `header key ${h.keyId} of ${h.memberId} is not valid now`);
      }
      ring = new KeyRing([key.publicKey]);
    }
    const header = {
      memberId: h.memberId,
      sequence: h.sequence,
      nonce: h.nonce,
      issuedAtMs: Number(h.issuedAtMs),
    };
    try {
      verifyMessage(
        schema.typeName,
        {
          header,
          payload: signedPayload(schema, req as MessageShape<S> & WithHeader),
          keyId: h.keyId,
          signature: h.signature,
        },
        () => ring,
      );
      this.#guard.accept(header);
    } catch (err) {
      if (isCryptoError(err)) {
        const code =
          err.code === "bad_signature" ||
          err.code === "unknown_key" ||
          err.code === "replay" ||
          err.code === "stale" ||
          err.code === "malformed" ||
          err.code === "too_large"
            ? err.code
            : "invalid_argument";
        throw new RpcError(code, `header: ${err.message}`, { cause: err });
      }
      throw err;
    }
    return { memberId: h.memberId, keyId: h.keyId };
  }
}
