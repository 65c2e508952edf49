// Replay memory survives a restart (issue 9, "Bad input": replayed session or nonce -> ALREADY_EXISTS; a
// replayed admin signature -> UNAUTHENTICATED). The nonces of accepted signed requests live in the node's
// database (seen_nonces, migration 0006), so a request captured before a restart and sent again right after
// it, within the clock-skew window, is refused as it would have been by the running node.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { MemberNode, ProtectModelRequestSchema, type SignedHeader, SignedHeaderSchema } from "@lineage/api";
import { newNonce } from "@lineage/crypto";
import { createClient, insecureChannelCredentials, methodPath, type RpcError } from "@lineage/rpc";
import {
  type MemberNodeDatabase,
  memberNodeMigrations,
  openStore,
  postgresTestTarget,
  randomTestSchema,
  type Store,
} from "@lineage/store";
import { sql } from "kysely";
import {
  readMemberNodeConfig,
  setAdminAuth,
  signAdminRequest,
  silentNodeLogger,
  startMemberNode,
} from "../src/index.js";
import { HeaderNonces, HUB_HEADER_SKEW_MS } from "../src/sessions/session-request.js";
import { modelEndpoint, nodeFiles, testBattery } from "./protect-fixture.js";

const PATH = methodPath(MemberNode.methods.find((m) => m.localName === "protectModel") as never);

test("a signed admin request replayed after the node restarts is refused (UNAUTHENTICATED)", async () => {
  const endpoint = await modelEndpoint();
  await using files = nodeFiles("acme", endpoint, testBattery(4));
  try {
    const config = await readMemberNodeConfig(
      files.writeConfig({ adapters: { closed: { base_url: "http://127.0.0.1:1", model: endpoint.model } } }),
      {},
    );
    const call = async (address: string, sig: Uint8Array) => {
      const raw = createClient(MemberNode, address, insecureChannelCredentials());
      const req = create(ProtectModelRequestSchema, {
        model: { memberId: "acme", modelId: "m-restart" },
        adapter: "closed",
      });
      try {
        for await (const _ of raw.protectModel(req, { metadata: setAdminAuth(new Metadata(), sig) })) {
          // drain
        }
        return undefined;
      } catch (err) {
        return err as RpcError;
      } finally {
        raw.close();
      }
    };
    const sign = () =>
      signAdminRequest(
        PATH,
        ProtectModelRequestSchema,
        create(ProtectModelRequestSchema, {
          model: { memberId: "acme", modelId: "m-restart" },
          adapter: "closed",
        }),
        files.key,
        "acme",
      );
    const captured = sign();
    const first = await startMemberNode({ config, env: {}, logger: silentNodeLogger, epochPollMs: 0 });
    try {
      // Authenticated, then refused for the closed endpoint: the request was admitted.
      assert.equal((await call(first.address, captured))?.code, "failed_precondition");
    } finally {
      await first.close();
    }
    const second = await startMemberNode({ config, env: {}, logger: silentNodeLogger, epochPollMs: 0 });
    try {
      const replay = await call(second.address, captured);
      assert.equal(replay?.code, "unauthenticated");
      assert.match(replay?.message ?? "", /replayed/);
      // A fresh signature is admitted: the node refuses the replay, not the caller.
      assert.equal((await call(second.address, sign()))?.code, "failed_precondition");
    } finally {
      await second.close();
    }
  } finally {
    await endpoint.close();
  }
});

const header = (issuedAtMs: number, nonce = newNonce()): SignedHeader =>
  create(SignedHeaderSchema, {
    memberId: "hub",
    keyId: "k",
    sequence: 1n,
    nonce,
    issuedAtMs: BigInt(issuedAtMs),
  });

/** Hub-header nonces across a restart of the node's database (open, close, open again). */
async function hubHeaderReplay(open: () => Promise<Store<MemberNodeDatabase>>): Promise<void> {
  const now = Date.parse("2026-12-04T12:00:00Z");
  const h = header(now);
  let store = await open();
  try {
    await store.migrate(memberNodeMigrations);
    await new HeaderNonces(store).remember(h, now);
    await assert.rejects(new HeaderNonces(store).remember(h, now + 1), { code: "already_exists" });
  } finally {
    await store.close();
  }
  store = await open();
  try {
    const nonces = new HeaderNonces(store);
    // Right after the restart, within the window: a replay.
    await assert.rejects(nonces.remember(h, now + 1000), { code: "already_exists" });
    await nonces.remember(header(now + 1000), now + 1000);
    // Once the header would be stale anyway, its nonce is forgotten (and taken over if it comes again).
    const later = now + 2 * HUB_HEADER_SKEW_MS + 1;
    await nonces.remember(h, later);
    await assert.rejects(nonces.remember(h, later + 1), { code: "already_exists" });
    await assert.rejects(nonces.remember(header(now, new Uint8Array(0)), now), { code: "malformed" });
  } finally {
    await store.close();
  }
}

test("hub header nonces survive a restart of the embedded database (ALREADY_EXISTS)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-nonces-"));
  try {
    await hubHeaderReplay(() => openStore<MemberNodeDatabase>({ kind: "pglite", dataDir: join(dir, "db") }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const pg = await postgresTestTarget();
test(
  "hub header nonces survive a restart on Postgres, and two processes share them",
  pg.skip ? { skip: pg.skip } : {},
  async () => {
    const url = pg.skip === undefined ? pg.url : "";
    const schema = randomTestSchema();
    const open = () => openStore<MemberNodeDatabase>({ kind: "postgres", url, schema });
    try {
      await hubHeaderReplay(open);
      // Two nodes on one database (or a node and its restarted self): one admission per nonce.
      const [a, b] = [await open(), await open()];
      try {
        const now = Date.now();
        const h = header(now);
        const outcomes = await Promise.allSettled([
          new HeaderNonces(a).remember(h, now),
          new HeaderNonces(b).remember(h, now),
        ]);
        assert.deepEqual(outcomes.map((o) => o.status).sort(), ["fulfilled", "rejected"]);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      const s = await open();
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
      await s.close();
    }
  },
);
