/**
 * How the hub reaches a member node with a match session (DESIGN.md flow 5; member_node_service.proto):
 * MemberNode.RunMatchSession over gRPC (server-streaming: progress, then exactly one answer), or the same
 * session over NATS request-reply on `lineage.session.<member>.request` (SessionMessage in and out). The hub
 * signs each request with a fresh header (the node refuses a replayed header); the node signs every message it
 * sends (the hub's header is signed by its sessions key, docs/specs/hub-keys.md). Everything that comes back is
 * untrusted: its header must verify under a key the log established for THAT member and valid now, and only then
 * is the answer handed to the session manager, which checks the rest.
 */
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { ChannelCredentials } from "@grpc/grpc-js";
import {
  type MatchSessionAnswer,
  type MatchSessionProgress,
  type MatchSessionRequest,
  MemberNode,
  RunMatchSessionRequestSchema,
  RunMatchSessionResponseSchema,
  SessionMessageSchema,
  type SignedHeader,
} from "@lineage/api";
import type { Bus } from "@lineage/bus";
import { type Ed25519PrivateKey, signedMessageBytes } from "@lineage/crypto";
import { createClient, isDomainCode, RpcError, type ServiceClient } from "@lineage/rpc";
import { HubError } from "../ingest/hub-error.js";
import { keyValidAt } from "../log/member-registry.js";
import type { TransparencyLog } from "../log/transparency-log.js";
import { SECRETARIAT, signRequest } from "../membership/request-header.js";

/** Largest encoded message accepted from a member node. */
export const MAX_MEMBER_MESSAGE_BYTES = 1 << 20;
/** Progress messages accepted per session (a node cannot stream forever). */
export const MAX_PROGRESS_MESSAGES = 100_000;

/** Options of one {@link SessionTransport.run}. */
export interface RunOptions {
  readonly signal?: AbortSignal;
  /** Give up after this long (the session's deadline bounds it too). */
  readonly timeoutMs: number;
  readonly onProgress?: (p: MatchSessionProgress) => void;
}

/** Sends a session to a member node and returns its verified answer. */
export interface SessionTransport {
  /**
   * Throws HubError: `unavailable` (retryable: unreachable, timed out, cancelled), `bad_signature` /
   * `malformed` (the node's reply cannot be trusted), or the node's refusal code.
   */
  run(memberId: string, request: MatchSessionRequest, options: RunOptions): Promise<MatchSessionAnswer>;
  close(): void;
}

/**
 * Verifies a member-signed header over `message` (domain = the message's protobuf type name, payload = the
 * message with `header` unset) against the log's keys of `memberId`, valid at the header's time.
 */
export function verifyMemberHeader<D extends DescMessage>(
  log: TransparencyLog,
  schema: D,
  message: MessageShape<D> & { header?: SignedHeader | undefined },
  memberId: string,
): void {
  const h = message.header;
  if (h === undefined) throw new HubError("bad_signature", "the member's reply carries no signed header");
  if (h.memberId !== memberId) throw new HubError("bad_signature", "the reply is signed for another member");
  const key = log.memberKey(h.keyId);
  if (key === undefined || key.memberId !== memberId)
    throw new HubError("bad_signature", "the reply is not signed by a key of the member");
  if (!keyValidAt(key, Number(h.issuedAtMs)))
    throw new HubError("bad_signature", "the reply's key is not valid at its time");
  let bytes: Uint8Array;
  try {
    const bare = { ...(message as object), header: undefined } as unknown as MessageShape<D>;
    bytes = signedMessageBytes(
      schema.typeName,
      { memberId: h.memberId, sequence: h.sequence, nonce: h.nonce, issuedAtMs: Number(h.issuedAtMs) },
      toBinary(schema, bare),
    );
  } catch (cause) {
    throw new HubError("malformed", "the reply's header is malformed", { cause });
  }
  if (!key.publicKey.verify(bytes, h.signature))
    throw new HubError("bad_signature", "the reply's member signature does not verify");
}

/** A failure of the call itself, as a HubError that says whether a retry can help. */
function callError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof RpcError) {
    const retry =
      err.retryable || err.code === "timeout" || err.code === "cancelled" || err.code === "unavailable";
    if (retry) return new HubError("unavailable", `member node: ${err.code}`, { cause: err });
    const code = isDomainCode(err.code) ? err.code : "internal";
    const known: readonly string[] = [
      "invalid_argument",
      "malformed",
      "bad_signature",
      "not_found",
      "already_exists",
      "permission_denied",
      "unauthenticated",
      "failed_precondition",
    ];
    return new HubError(
      (known.includes(code) ? code : "internal") as HubError["code"],
      `member node refused the session: ${err.code}`,
      { cause: err },
    );
  }
  const code = (err as { code?: unknown })?.code;
  if (code === "timeout" || code === "unavailable" || code === "cancelled" || code === "disconnected")
    return new HubError("unavailable", `member node: ${String(code)}`, { cause: err });
  if (typeof code === "string")
    return new HubError("failed_precondition", `member node refused the session: ${code}`, { cause: err });
  return new HubError("unavailable", "member node call failed", { cause: err });
}

/** Where a member's node listens for RunMatchSession (host:port), or undefined when unknown. */
export type MemberAddressBook = (memberId: string) => string | undefined;

/** RunMatchSession over gRPC (one channel per member, reused). */
export class GrpcSessionTransport implements SessionTransport {
  readonly #log: TransparencyLog;
  readonly #addresses: MemberAddressBook;
  readonly #credentials: ChannelCredentials;
  readonly #clients = new Map<string, ServiceClient<typeof MemberNode>>();

  constructor(options: {
    readonly log: TransparencyLog;
    /** Ignored: request headers are signed by the log's sessions key (TransparencyLog.signingKey). */
    readonly hubKey?: Ed25519PrivateKey;
    readonly addresses: MemberAddressBook;
    readonly credentials: ChannelCredentials;
  }) {
    this.#log = options.log;
    this.#addresses = options.addresses;
    this.#credentials = options.credentials;
  }

  #client(memberId: string): ServiceClient<typeof MemberNode> {
    const address = this.#addresses(memberId);
    if (address === undefined)
      throw new HubError("failed_precondition", `no node address is configured for member ${memberId}`);
    let c = this.#clients.get(address);
    if (c === undefined) {
      c = createClient(MemberNode, address, this.#credentials);
      this.#clients.set(address, c);
    }
    return c;
  }

  async run(
    memberId: string,
    request: MatchSessionRequest,
    options: RunOptions,
  ): Promise<MatchSessionAnswer> {
    const client = this.#client(memberId);
    const req = signRequest(
      RunMatchSessionRequestSchema,
      create(RunMatchSessionRequestSchema, { session: request }),
      { memberId: SECRETARIAT, key: this.#log.signingKey("sessions") },
    );
    let progress = 0;
    try {
      for await (const msg of client.runMatchSession(req, {
        timeoutMs: options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      })) {
        // Untrusted: size first, then the member's signature, then the content.
        if (toBinary(RunMatchSessionResponseSchema, msg).length > MAX_MEMBER_MESSAGE_BYTES)
          throw new HubError("malformed", "a member reply exceeds the size limit");
        verifyMemberHeader(this.#log, RunMatchSessionResponseSchema, msg, memberId);
        if (msg.event.case === "answer") return msg.event.value;
        if (msg.event.case === "progress") {
          if (++progress > MAX_PROGRESS_MESSAGES)
            throw new HubError("malformed", "the member node streamed too many progress messages");
          options.onProgress?.(msg.event.value);
        }
      }
    } catch (err) {
      throw callError(err);
    }
    throw new HubError("unavailable", "the member node closed the stream without an answer");
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

/** NATS subject a member node serves its sessions on (member-node: sessionRequestSubject). */
export function memberSessionSubject(memberId: string): string {
  return `lineage.session.${memberId}.request`;
}

/** The same session over NATS request-reply (no progress: one request, one answer). */
export class BusSessionTransport implements SessionTransport {
  readonly #log: TransparencyLog;
  readonly #bus: Bus;

  constructor(options: {
    readonly log: TransparencyLog;
    /** Ignored: request headers are signed by the log's sessions key (TransparencyLog.signingKey). */
    readonly hubKey?: Ed25519PrivateKey;
    readonly bus: Bus;
  }) {
    this.#log = options.log;
    this.#bus = options.bus;
  }

  async run(
    memberId: string,
    request: MatchSessionRequest,
    options: RunOptions,
  ): Promise<MatchSessionAnswer> {
    const msg = signRequest(
      SessionMessageSchema,
      create(SessionMessageSchema, { body: { case: "request", value: request } }),
      { memberId: SECRETARIAT, key: this.#log.signingKey("sessions") },
    );
    let data: Uint8Array;
    try {
      if (options.signal?.aborted) throw new HubError("unavailable", "the session was cancelled");
      const reply = await this.#bus.request(
        memberSessionSubject(memberId),
        toBinary(SessionMessageSchema, msg),
        {
          timeoutMs: Math.max(1, Math.min(300_000, options.timeoutMs)),
        },
      );
      data = reply.data;
    } catch (err) {
      throw callError(err);
    }
    if (data.length > MAX_MEMBER_MESSAGE_BYTES)
      throw new HubError("malformed", "the member reply exceeds the size limit");
    let m: MessageShape<typeof SessionMessageSchema>;
    try {
      m = fromBinary(SessionMessageSchema, data);
    } catch (cause) {
      throw new HubError("malformed", "the member reply is not an encoded SessionMessage", { cause });
    }
    verifyMemberHeader(this.#log, SessionMessageSchema, m, memberId);
    if (m.body.case !== "answer") throw new HubError("malformed", "the member reply carries no answer");
    return m.body.value;
  }

  close(): void {}
}
