/**
 * Who may call the node's write RPCs (ProtectModel, ImportCanarySet, withdrawals): the member's own
 * operators, never the hub or another member that merely holds an alliance client certificate. A call is
 * authenticated by either
 *
 * - a verified mutual-TLS client certificate whose SHA-256 fingerprint is on the node's admin list
 *   (`admin.client_cert_sha256` in the config), or
 * - a signed request: metadata `lineage-admin-auth-bin` holding a protobuf SignedHeader whose signature
 *   verifies, under an admin key (the node's own signing key and `admin.keys`), over
 *   signedMessageBytes(method path, header, protobuf encoding of the request); issued within
 *   ±5 minutes of the node's clock and with a nonce not seen before — remembered in the node's database
 *   (`seen_nonces`, migration 0006) until the request would be stale, so a restart does not reopen it.
 *
 * The metadata is attacker-controlled: it is size-bounded and decoded defensively; every failure is
 * `unauthenticated` with a message naming what is missing, never why a signature failed in detail.
 */
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { Metadata } from "@grpc/grpc-js";
import { SignedHeaderSchema } from "@lineage/api";
import {
  type Ed25519PrivateKey,
  type KeyRing,
  newNonce,
  signedMessageBytes,
  signMessage,
} from "@lineage/crypto";
import type { CallContext } from "@lineage/rpc";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import { MemberNodeError } from "./member-node-error.js";
import { forgetExpiredNonces, rememberNonce } from "./sessions/session-request.js";

/** Metadata key of a signed admin request. */
export const ADMIN_AUTH_METADATA_KEY = "lineage-admin-auth-bin";
/** Largest accepted admin-auth metadata value (a SignedHeader is ~200 bytes). */
const MAX_AUTH_BYTES = 1024;
/** Largest accepted |issued_at - now|. */
export const ADMIN_AUTH_SKEW_MS = 5 * 60_000;

/** Checks callers of write RPCs. */
export interface AdminAuth {
  /**
   * Throws MemberNodeError `unauthenticated` unless the call carries an admin identity.
   * @returns a label of the caller safe to log ("cert:<sha256 prefix>" or "key:<key id prefix>").
   */
  check<D extends DescMessage>(ctx: CallContext, schema: D, request: MessageShape<D>): Promise<string>;
}

/** Options of {@link adminAuth}. */
export interface AdminAuthOptions {
  /** Public keys that may sign admin requests. */
  readonly keys: KeyRing;
  /** SHA-256 fingerprints (hex, lowercase, no colons) of admin client certificates. */
  readonly clientCertSha256?: readonly string[];
  readonly now: () => number;
  /** The node's database: where accepted nonces are remembered. */
  readonly store: Store<MemberNodeDatabase>;
}

function unauthenticated(what: string): never {
  throw new MemberNodeError("unauthenticated", `admin call refused: ${what}`);
}

/** The node's admin check (see the module header). */
export function adminAuth(options: AdminAuthOptions): AdminAuth {
  const certs = new Set((options.clientCertSha256 ?? []).map((f) => f.toLowerCase().replaceAll(":", "")));
  let purgedAt = Number.NEGATIVE_INFINITY;
  return {
    async check(ctx, schema, request) {
      const cert = ctx.auth.sslPeerCertificate;
      if (cert?.fingerprint256 !== undefined) {
        const fp = cert.fingerprint256.toLowerCase().replaceAll(":", "");
        if (certs.has(fp)) return `cert:${fp.slice(0, 16)}`;
      }
      const values = ctx.metadata.get(ADMIN_AUTH_METADATA_KEY);
      if (values.length === 0) unauthenticated("no admin client certificate and no signed request");
      if (values.length > 1) unauthenticated(`more than one ${ADMIN_AUTH_METADATA_KEY}`);
      const raw = values[0];
      if (!(raw instanceof Uint8Array) || raw.length > MAX_AUTH_BYTES)
        unauthenticated(`${ADMIN_AUTH_METADATA_KEY} must be at most ${MAX_AUTH_BYTES} bytes`);
      let header: ReturnType<typeof fromBinary<typeof SignedHeaderSchema>>;
      try {
        header = fromBinary(SignedHeaderSchema, raw);
      } catch {
        return unauthenticated(`${ADMIN_AUTH_METADATA_KEY} is not a SignedHeader`);
      }
      const key = options.keys.get(header.keyId);
      if (key === undefined) unauthenticated("the request is not signed by an admin key");
      const issuedAtMs = Number(header.issuedAtMs);
      let message: Uint8Array;
      try {
        message = signedMessageBytes(
          ctx.method,
          { memberId: header.memberId, sequence: header.sequence, nonce: header.nonce, issuedAtMs },
          toBinary(schema, request),
        );
      } catch {
        return unauthenticated("the signed header is malformed");
      }
      if (!key.verify(message, header.signature)) unauthenticated("the request signature does not verify");
      const now = options.now();
      if (Math.abs(issuedAtMs - now) > ADMIN_AUTH_SKEW_MS)
        unauthenticated("the signed request is stale (check the clocks)");
      if (header.nonce.length < 1 || header.nonce.length > 64)
        unauthenticated("the nonce must be 1..64 bytes");
      // Kept until the request would be refused as stale: issued_at + skew (on the node's clock, later).
      const expires = Math.max(issuedAtMs, now) + ADMIN_AUTH_SKEW_MS;
      if (!(await rememberNonce(options.store, "admin", header.nonce, now, expires)))
        unauthenticated("the signed request was replayed");
      if (now - purgedAt > ADMIN_AUTH_SKEW_MS) {
        purgedAt = now;
        await forgetExpiredNonces(options.store, now);
      }
      return `key:${header.keyId.slice(0, 16)}`;
    },
  };
}

/** Signs an admin request for `method` (a full path, e.g. "/lineage.v1.MemberNode/ProtectModel"). */
export function signAdminRequest<D extends DescMessage>(
  method: string,
  schema: D,
  request: MessageShape<D>,
  key: Ed25519PrivateKey,
  memberId: string,
  now: () => number = Date.now,
): Uint8Array {
  const issuedAtMs = now();
  const header = { memberId, sequence: BigInt(issuedAtMs), nonce: newNonce(), issuedAtMs };
  const signed = signMessage(method, header, toBinary(schema, request), key);
  return toBinary(
    SignedHeaderSchema,
    create(SignedHeaderSchema, {
      memberId,
      keyId: signed.keyId,
      sequence: header.sequence,
      nonce: signed.header.nonce,
      issuedAtMs: BigInt(issuedAtMs),
      signature: signed.signature,
    }),
  );
}

/** Puts a signed admin request into `metadata`. */
export function setAdminAuth(metadata: Metadata, value: Uint8Array): Metadata {
  metadata.set(ADMIN_AUTH_METADATA_KEY, Buffer.from(value));
  return metadata;
}
