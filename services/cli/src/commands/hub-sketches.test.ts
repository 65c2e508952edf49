/**
 * `lineage hub sketches suppress|list` against a real hub (its gRPC server, log and sketch index on real
 * Postgres; skipped when Postgres is unreachable, a failure under CI=true): the secretariat suppresses a member's
 * sketch, the suppression is logged (kind 10: who, which sketch, why) and the sketch leaves retrieval; a second
 * suppression, a malformed id, empty reasons and a key that is not the hub's are refused with a clear message;
 * `list` shows the suppressed sketch with its reason.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LogEntryKind } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { enrolmentRecord, signMembership } from "@lineage/hub";
import { type HubDatabase, openTestStore, postgresTestTarget } from "@lineage/store";
import { captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { type MemberSide, startHubSide, submitMemberSketch } from "./hub-cases-world.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-sketches-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const pg = await postgresTestTarget();

async function run(args: string[]) {
  const io = captureIo({ cwd: dir });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

test("hub sketches suppress (logged) and list", { skip: pg.skip ?? false, timeout: 240_000 }, async () => {
  const url = pg.skip === undefined ? pg.url : "";
  await using store = await openTestStore<HubDatabase>("postgres", { url });
  const hubKey = Ed25519PrivateKey.generate();
  writeFileSync(join(dir, "hub.pem"), hubKey.toPem(), { mode: 0o600 });
  writeFileSync(join(dir, "other.pem"), Ed25519PrivateKey.generate().toPem(), { mode: 0o600 });
  await using hub = await startHubSide(store, {
    hubKey,
    addresses: new Map(),
    scan: { suspects: new Map(), onScan: () => {} },
  });
  const key = Ed25519PrivateKey.generate();
  const now = Date.now();
  await hub.log.appendMembership(
    signMembership(
      enrolmentRecord("acme", "Member acme", key.publicKey, now - 60_000, { effectiveAtMs: now }),
      [key],
    ),
  );
  await submitMemberSketch(hub, { memberId: "acme", modelId: "acme-chat", key } as unknown as MemberSide);
  const row = await store.db.selectFrom("sketches").select("sketch_id").executeTakeFirstOrThrow();
  const sketchId = row.sketch_id;
  assert.equal(hub.index?.retriever.size, 1);
  const connect = ["--hub", hub.server.address];
  const base = ["hub", "sketches", "suppress", ...connect, "--sketch", sketchId, "--reviewer", "ana"];

  // Refused before anything is sent: a malformed id, an empty reason.
  const badId = await run([
    "hub",
    "sketches",
    "suppress",
    ...connect,
    "--sketch",
    "XYZ",
    "--reviewer",
    "ana",
    "--reason",
    "r",
    "--key",
    "hub.pem",
  ]);
  assert.equal(badId.code, EXIT.usage);
  assert.match(badId.err, /--sketch must be 64 lowercase hex/);
  const noReason = await run([...base, "--reason", " ", "--key", "hub.pem"]);
  assert.equal(noReason.code, EXIT.usage);
  assert.match(noReason.err, /--reason must be 1\.\.1024/);
  // Not the hub's key: refused by the hub, nothing logged.
  const size0 = hub.log.size;
  const stranger = await run([...base, "--reason", "false leads", "--key", "other.pem"]);
  assert.notEqual(stranger.code, EXIT.ok);
  assert.match(stranger.err, /the hub refused it/);
  assert.equal(hub.log.size, size0);

  const done = await run(["--json", ...base, "--reason", "false leads", "--key", "hub.pem"]);
  assert.equal(done.code, EXIT.ok, done.err);
  const j = JSON.parse(done.out) as { sketch_id: string; member_id: string; log_index: number };
  assert.deepEqual([j.sketch_id, j.member_id], [sketchId, "acme"]);
  const entry = await hub.log.entry(j.log_index);
  assert.equal(entry?.kind, LogEntryKind.SKETCH_SUPPRESSION);
  assert.equal(hub.index?.retriever.size, 0);

  const twice = await run([...base, "--reason", "again", "--key", "hub.pem"]);
  assert.notEqual(twice.code, EXIT.ok);
  assert.match(twice.err, /is suppressed, not active/);

  const listed = await run([
    "--json",
    "hub",
    "sketches",
    "list",
    "--pg",
    url,
    "--schema",
    store.schema as string,
  ]);
  assert.equal(listed.code, EXIT.ok, listed.err);
  const rows = JSON.parse(listed.out) as { sketch_id: string; status: string; reason: string }[];
  assert.deepEqual(
    rows.map((r) => [r.sketch_id, r.status, r.reason]),
    [[sketchId, "suppressed", "false leads (reviewer: ana)"]],
  );
  const badStatus = await run([
    "hub",
    "sketches",
    "list",
    "--pg",
    url,
    "--schema",
    store.schema as string,
    "--status",
    "gone",
  ]);
  assert.notEqual(badStatus.code, EXIT.ok);
  await hub.close();
});
