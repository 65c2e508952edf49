/**
 * Canary sets against the hub's real log: labels only after the log drew them, commit checked in the log
 * (a hub that names another entry is caught), spending and the reuse policy, exposure counts.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  type HubDatabase,
  type MemberNodeDatabase,
  memberNodeMigrations,
  openTestStore,
} from "@lineage/store";
import { parseCanaryPairsJsonl } from "../src/canaries/canary-file.js";
import { CanarySets } from "../src/canaries/canary-sets.js";
import type { HubLogClient } from "../src/canaries/hub-log.js";
import { headerSigner } from "../src/header-signer.js";
import { isMemberNodeError } from "../src/member-node-error.js";
import { enrol, MEMBER, memberKey, SAMPLE_PAIRS, startHub } from "./match-world.js";

test("canary sets: labels only from the log, commit checked in the log, spending under the reuse policy", {
  timeout: 120_000,
}, async () => {
  await using hubStore = await openTestStore<HubDatabase>("pglite-memory");
  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  await using hub = await startHub(hubStore);
  const { key } = memberKey();
  await enrol(hub.log, key);
  const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8"));
  const deps = {
    memberId: MEMBER,
    store,
    signingKey: key,
    signer: headerSigner(MEMBER, key, store, Date.now),
    hub: hub.client,
    hubLog: hub.trust,
    clock: Date.now,
  };
  const sets = new CanarySets({ ...deps, maxSuspectsPerCanary: 1 });

  const imported = await sets.import("set-1", pairs);
  assert.equal(imported.pairs, 32);
  await assert.rejects(sets.import("set-1", pairs), (e) => isMemberNodeError(e, "already_exists"));
  await assert.rejects(sets.import("bad id!", pairs), (e) => isMemberNodeError(e, "invalid_argument"));
  // Before the commitment is logged, no label exists and none can be learned.
  await assert.rejects(sets.learnLabels("set-1"), (e) => isMemberNodeError(e, "failed_precondition"));
  await assert.rejects(sets.labelled("set-1"), (e) => isMemberNodeError(e, "failed_precondition"));
  const unlabelled = await store.db
    .selectFrom("canary_pairs")
    .select("exposed")
    .where("exposed", "is not", null)
    .execute();
  assert.equal(unlabelled.length, 0);

  // A hub that answers with another entry's index is caught: the leaf is fetched and compared.
  const liar = new Proxy(hub.client, {
    get: (t, p, r) =>
      p === "logCanaryCommitment"
        ? async (req: Parameters<HubLogClient["logCanaryCommitment"]>[0]) => {
            const res = await t.logCanaryCommitment(req);
            return { ...res, logEntry: { ...res.logEntry, index: 0n } };
          }
        : Reflect.get(t, p, r),
  });
  const fooled = new CanarySets({ ...deps, hub: liar });
  await fooled.import("set-2", pairs.slice(0, 4));
  await assert.rejects(
    fooled.commit("set-2"),
    (e) => isMemberNodeError(e, "malformed") && /does not hold/.test(e.message),
  );

  // A checkpoint the hub's key did not sign (one byte of its text altered) is refused.
  const forger = new Proxy(hub.client, {
    get: (t, p, r) =>
      p === "getInclusionProof"
        ? async (req: Parameters<HubLogClient["getInclusionProof"]>[0]) => {
            const res = await t.getInclusionProof(req);
            const note = res.checkpoint?.signedNote ?? (await t.getCheckpoint({})).checkpoint?.signedNote;
            const altered = new Uint8Array(note ?? []);
            const at = altered.indexOf(10) + 1; // first character of the size line
            altered[at] = (altered[at] as number) ^ 1;
            return { ...res, checkpoint: { $typeName: "lineage.v1.Checkpoint", signedNote: altered } };
          }
        : Reflect.get(t, p, r),
  });
  const forged = new CanarySets({ ...deps, hub: forger });
  await forged.import("set-3", pairs.slice(0, 4));
  await assert.rejects(
    forged.commit("set-3"),
    (e) => isMemberNodeError(e, "bad_signature") || isMemberNodeError(e, "malformed"),
  );

  const c1 = await sets.commit("set-1");
  const c2 = await sets.commit("set-1");
  assert.equal(c2.ref.logIndex, c1.ref.logIndex, "committing twice logs once");
  const labels = await sets.learnLabels("set-1");
  assert.equal(labels.length, 32);
  assert.ok(labels.includes(0) && labels.includes(1));
  const set = await sets.labelled("set-1");
  set.set.pairs.forEach((p, i) => {
    const raw = pairs[i] as (typeof pairs)[number];
    assert.equal(p.exposed.prompt, labels[i] === 0 ? raw.a.prompt : raw.b.prompt);
  });

  // Spending: once per item and suspect; the policy (1 suspect per canary) refuses a second suspect.
  assert.equal(await sets.reserve("set-1", 0, 0, "suspect-a", "s-1"), true);
  assert.equal(await sets.reserve("set-1", 0, 0, "suspect-a", "s-2"), false);
  assert.equal(await sets.reserve("set-1", 3, 1, "suspect-a", "s-1"), true);
  await sets.checkReuse("set-1", "suspect-a");
  // The reservation itself refuses a second suspect (not only the check at session start).
  await assert.rejects(
    sets.reserve("set-1", 0, 0, "suspect-b", "s-3"),
    (e) => isMemberNodeError(e, "failed_precondition") && /at most 1 suspects per canary/.test(e.message),
  );
  await assert.rejects(
    sets.checkReuse("set-1", "suspect-b"),
    (e) =>
      isMemberNodeError(e, "failed_precondition") &&
      /set-1: 2 canaries .* at most 1 suspects per canary/.test(e.message),
  );
  const [exp] = await sets.exposure(["set-1"]);
  assert.equal(exp?.total, 64n);
  assert.equal(exp?.spent, 2n);
  assert.equal(exp?.remaining, 62n);
  assert.deepEqual(
    exp?.recentEvents.map((e) => [e.sessionId, e.suspectId, e.canariesSent]),
    [["s-1", "suspect-a", 2]],
    "the repeat in s-2 spent nothing new",
  );
  await assert.rejects(sets.exposure(["nope"]), (e) => isMemberNodeError(e, "not_found"));
  await assert.rejects(sets.exposure(["bad id!"]), (e) => isMemberNodeError(e, "invalid_argument"));
});
