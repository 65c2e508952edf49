/**
 * What every handler module of the member node is built from. `startMemberNode` (member-node-server.ts)
 * assembles one `MemberNodeDeps` and hands it to each module's `...Handlers(deps)` factory.
 */
import type { Hub } from "@lineage/api";
import type { Bus } from "@lineage/bus";
import type { Ed25519PrivateKey, KeyRing } from "@lineage/crypto";
import type { ServiceClient } from "@lineage/rpc";
import type { MemberNodeDatabase, Store } from "@lineage/store";
import type { AdminAuth } from "./admin-auth.js";
import type { HeaderSigner } from "./header-signer.js";
import type { NodeLogger } from "./node-logger.js";

/** The node's dependencies, shared by all handler modules. */
export interface MemberNodeDeps {
  /** This node's member id. */
  readonly memberId: string;
  /** The node's database (migrated). */
  readonly store: Store<MemberNodeDatabase>;
  /** NATS JetStream, or the in-process bus of the embedded default. */
  readonly bus: Bus;
  /** The member's Ed25519 signing key (attestations, sketches, headers). Never logged or sent. */
  readonly signingKey: Ed25519PrivateKey;
  /** Signs message headers with a sequence that increases across restarts. */
  readonly signer: HeaderSigner;
  /** Client of the hub, when one is configured. */
  readonly hub: ServiceClient<typeof Hub> | undefined;
  /** The hub's public keys (session and checkpoint signatures). */
  readonly hubKeys: KeyRing;
  /** Who may call the node's write (admin) RPCs. */
  readonly admin: AdminAuth;
  /** The node's clock, ms since the Unix epoch. */
  readonly clock: () => number;
  /** Structured log; safe fields only. */
  readonly logger: NodeLogger;
}
