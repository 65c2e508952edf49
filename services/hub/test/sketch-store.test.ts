/**
 * The database half of ingestion (sketch-store.ts) on PGlite and on real Postgres: what one batch decides for
 * each message (indexed, duplicate sketch, redelivery, replayed header, sequence far below the member's last,
 * a model's older sketch superseded in the same batch or by a later one), and that a stored sketch is read
 * back from its envelope — the only copy kept since migration 0013 — exactly as it was indexed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { DsseEnvelopeSchema } from "@lineage/api";
import { sha256, toHex } from "@lineage/crypto";
import type { Sketch } from "@lineage/fingerprint";
import { sql } from "kysely";
import { type PendingSketch, REORDER_WINDOW, SketchStore } from "../src/ingest/sketch-store.js";
import { backends } from "./log-fixtures.js";
import {
  acmeGlobexHub,
  EPOCH_ID,
  sketchEnvelope,
  syntheticSketch,
  type TestMember,
} from "./sketch-fixtures.js";

/** A verified message as the verifier hands it over (the envelope really signed by the member). */
function pending(
  m: TestMember,
  sketch: Sketch,
  modelId: string,
  sequence: bigint,
  streamSeq: bigint | undefined,
  opts: { readonly nonce?: Uint8Array; readonly digest?: Uint8Array } = {},
): PendingSketch {
  const model = { memberId: m.id, modelId, modelVersion: "1" };
  const env = sketchEnvelope(m.key, sketch, model);
  return {
    streamSeq,
    verified: {
      memberId: m.id,
      keyId: m.key.keyId,
      sequence,
      nonce: opts.nonce ?? new Uint8Array(randomBytes(16)),
      messageDigest: opts.digest ?? new Uint8Array(randomBytes(32)),
      sketchId: toHex(sha256(env.payload)),
      epochId: EPOCH_ID,
      model,
      sketch,
      envelope: toBinary(DsseEnvelopeSchema, env),
    },
  };
}

for (const backend of await backends()) {
  test(`${backend.name}: a batch decides each message, and stored sketches read back from their envelopes`, {
    skip: backend.skip ?? false,
  }, async () => {
    const { store, hub, acme, globex } = await acmeGlobexHub(backend, 8);
    try {
      const sketches = new SketchStore(store);
      const sk = (seed: number) => syntheticSketch(EPOCH_ID, 8, seed, { common: 0.3 });
      const first = pending(acme, sk(1), "m1", 10n, 100n);
      const top = pending(globex, sk(2), "g1", REORDER_WINDOW + 50n, 101n);
      assert.deepEqual(
        (await sketches.commit([first, top])).map((o) => o.kind),
        ["indexed", "indexed"],
      );
      const older = pending(acme, sk(3), "m2", 11n, 102n);
      const newer = pending(acme, sk(4), "m2", 12n, 103n);
      const batch: PendingSketch[] = [
        newer, // m2's newest, listed before its older sketch: the newer one stays active
        older,
        // The same message delivered again by JetStream (same header, digest and stream sequence).
        pending(acme, sk(1), "m1", 10n, 100n, {
          nonce: first.verified.nonce,
          digest: first.verified.messageDigest,
        }),
        // The same header with other bytes, or stored again under a new stream sequence: replays.
        pending(acme, sk(5), "m5", 10n, 104n),
        pending(acme, sk(1), "m1", 10n, 105n, {
          nonce: first.verified.nonce,
          digest: first.verified.messageDigest,
        }),
        // A reused nonce under a fresh sequence.
        pending(acme, sk(6), "m6", 13n, 106n, { nonce: first.verified.nonce }),
        // The same sketch (payload) as an indexed one, under a fresh header: nothing new to index.
        pending(acme, sk(1), "m1", 14n, 107n),
        // Far below the member's highest accepted sequence.
        pending(globex, sk(7), "g7", 49n, 108n),
        // Over gRPC: no stream sequence.
        pending(globex, sk(8), "g8", REORDER_WINDOW + 51n, undefined),
      ];
      const out = await sketches.commit(batch);
      assert.deepEqual(
        out.map((o) => o.kind),
        ["indexed", "indexed", "duplicate", "replay", "replay", "replay", "duplicate", "replay", "indexed"],
      );
      assert.deepEqual(out[2], { kind: "duplicate", sketchId: first.verified.sketchId });
      assert.deepEqual(out[6], { kind: "duplicate", sketchId: first.verified.sketchId });
      assert.match(JSON.stringify(out[7]), /far below/);
      const statuses = await store.db
        .selectFrom("sketches")
        .select(["sketch_id", "status", "status_reason"])
        .orderBy("seq")
        .execute();
      assert.deepEqual(
        statuses.map((r) => [r.sketch_id, r.status, r.status_reason]),
        [
          [first.verified.sketchId, "active", null],
          [top.verified.sketchId, "active", null],
          [newer.verified.sketchId, "active", null],
          [older.verified.sketchId, "superseded", "superseded in the same batch"],
          [(batch[8] as PendingSketch).verified.sketchId, "active", null],
        ],
      );
      const grpc = await store.db
        .selectFrom("sketch_messages")
        .select(["stream_seq", "nonce", "message_digest"])
        .where("member_id", "=", "globex")
        .where("sequence", "=", REORDER_WINDOW + 51n)
        .executeTakeFirstOrThrow();
      assert.equal(grpc.stream_seq, null);
      assert.deepEqual(grpc.nonce, (batch[8] as PendingSketch).verified.nonce);
      assert.deepEqual(grpc.message_digest, (batch[8] as PendingSketch).verified.messageDigest);
      // A later batch's sketch of m1 supersedes the active one.
      const next = pending(acme, sk(9), "m1", 15n, 109n);
      assert.equal((await sketches.commit([next]))[0]?.kind, "indexed");
      assert.deepEqual(await sketches.counts(), { active: 4, superseded: 2 });

      // Read back: the envelope as committed, and the sketch decoded from it equal to what was indexed.
      const stored = await sketches.activeAfter(EPOCH_ID, 0n, 100, true);
      const want = [top, newer, batch[8] as PendingSketch, next].map((p) => p.verified);
      assert.deepEqual(
        stored.map((r) => [r.sketchId, r.model, r.sketch, r.coarse]),
        want.map((v) => [v.sketchId, v.model, v.sketch, v.sketch.coarse]),
      );
      const paged: string[] = [];
      for await (const page of sketches.activePages(EPOCH_ID, 0n, 3)) {
        assert.ok(page.length <= 3);
        for (const r of page) {
          assert.equal(r.sketch, undefined, "without withSketch only the coarse signature is kept");
          paged.push(r.sketchId);
        }
      }
      assert.deepEqual(
        paged,
        want.map((v) => v.sketchId),
      );
      const bySeq = await sketches.sketchesBySeq(stored.map((r) => r.seq));
      assert.deepEqual(
        stored.map((r) => bySeq.get(r.seq)),
        want.map((v) => v.sketch),
      );
      assert.deepEqual(
        (await sketches.activeByIds([newer.verified.sketchId], true)).map((r) => r.sketch),
        [newer.verified.sketch],
      );
      const envelopes = await store.db.selectFrom("sketches").select(["sketch_id", "envelope"]).execute();
      for (const v of [first, top, newer, older, next].map((p) => p.verified))
        assert.deepEqual(envelopes.find((r) => r.sketch_id === v.sketchId)?.envelope, v.envelope);

      // A stored envelope that no longer decodes is the hub's fault (internal), named by its sketch id.
      await sql`update sketches set envelope = '\\x0a00'::bytea where sketch_id = ${next.verified.sketchId}`.execute(
        store.db,
      );
      await assert.rejects(sketches.activeAfter(EPOCH_ID, 0n, 100), (e: Error & { code?: string }) => {
        assert.equal(e.code, "internal");
        assert.match(e.message, new RegExp(next.verified.sketchId));
        return true;
      });
    } finally {
      await hub.log.close();
      await store.close();
    }
  });
}
