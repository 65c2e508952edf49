/**
 * The canary reuse policy under concurrency (issue 12's load run found an item sent to 4-5 distinct suspects
 * against a policy of 3: the policy was checked at session start, items recorded only when sent). Many
 * sessions for distinct suspects start at once, each checking the policy and then reserving its items in its
 * own order; no item may end with more holders than the policy, whatever the interleaving. On Postgres the
 * sessions are spread over two stores (two connection pools on one database, as two node processes would be).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  type MemberNodeDatabase,
  memberNodeMigrations,
  openStore,
  openTestStore,
  postgresTestTarget,
  type Store,
  type TestBackend,
} from "@lineage/store";
import { parseCanaryPairsJsonl } from "../src/canaries/canary-file.js";
import { CanarySets } from "../src/canaries/canary-sets.js";
import type { HubLogTrust } from "../src/canaries/hub-log.js";
import { headerSigner } from "../src/header-signer.js";
import { isMemberNodeError } from "../src/member-node-error.js";
import { MEMBER, memberKey, SAMPLE_PAIRS } from "./match-world.js";

const pg = await postgresTestTarget();

/** Spending never reads the hub's log: a trust that fails loudly if anything tried. */
const noLog: HubLogTrust = {
  get origin(): string {
    throw new Error("spending must not read the hub's log");
  },
  get verifier(): never {
    throw new Error("spending must not read the hub's log");
  },
};

function setsOn(store: Store<MemberNodeDatabase>, max: number): CanarySets {
  const { key } = memberKey();
  return new CanarySets({
    memberId: MEMBER,
    store,
    signingKey: key,
    signer: headerSigner(MEMBER, key, store, Date.now),
    hub: undefined,
    hubLog: noLog,
    clock: Date.now,
    maxSuspectsPerCanary: max,
  });
}

const tick = () => new Promise<void>((r) => setImmediate(r));

async function burst(stores: readonly Store<MemberNodeDatabase>[]): Promise<void> {
  const MAX = 3;
  const SUSPECTS = 12;
  const PAIRS = 6;
  const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8")).slice(0, PAIRS);
  const [first] = stores;
  assert.ok(first !== undefined);
  await setsOn(first, MAX).import("burst", pairs);
  const items = pairs.flatMap((_, i) => [
    [i, 0],
    [i, 1],
  ]) as [number, 0 | 1][];

  // Each session: the start-of-session check, then its items one by one in its own order (a rotation), with
  // a turn of the event loop between them so the sessions interleave as concurrent sessions do.
  const outcomes = await Promise.all(
    Array.from({ length: SUSPECTS }, async (_, s) => {
      const sets = setsOn(stores[s % stores.length] as Store<MemberNodeDatabase>, MAX);
      const suspect = `suspect-${s}`;
      let reserved = 0;
      try {
        await sets.checkReuse("burst", suspect);
      } catch (err) {
        // Sessions that start after some item is full are refused outright (and send nothing).
        assert.ok(isMemberNodeError(err, "failed_precondition"), String(err));
        return { reserved, refused: items.length };
      }
      let refused = 0;
      for (let k = 0; k < items.length; k++) {
        const [pair, item] = items[(k + s) % items.length] as [number, 0 | 1];
        await tick();
        try {
          if (await sets.reserve("burst", pair, item, suspect, `session-${s}`)) reserved++;
        } catch (err) {
          assert.ok(isMemberNodeError(err, "failed_precondition"), String(err));
          assert.match((err as Error).message, /burst: .* at most 3 suspects per canary/);
          refused++;
        }
      }
      return { reserved, refused };
    }),
  );

  const rows = await first.db
    .selectFrom("canary_exposures")
    .select(["pair_index", "item", "suspect_id"])
    .where("commitment_id", "=", "burst")
    .execute();
  const holders = new Map<string, Set<string>>();
  for (const r of rows) {
    const k = `${r.pair_index}/${r.item}`;
    holders.set(k, (holders.get(k) ?? new Set()).add(r.suspect_id));
  }
  const most = Math.max(...[...holders.values()].map((h) => h.size));
  assert.ok(most <= MAX, `an item went to ${most} distinct suspects; the policy allows ${MAX}`);
  // The burst did contend (items reached the limit and later sessions were refused), and what each session
  // reserved is exactly what is recorded.
  assert.equal(most, MAX);
  assert.ok(outcomes.some((o) => o.refused > 0));
  assert.equal(
    outcomes.reduce((n, o) => n + o.reserved, 0),
    rows.length,
  );

  // A retried session (same suspect) reuses its reservation: nothing new is spent, nothing is refused.
  const holder = [...(holders.get("0/0") ?? [])][0] as string;
  const sets = setsOn(first, MAX);
  assert.equal(await sets.reserve("burst", 0, 0, holder, "session-retry"), false);
  const [exp] = await sets.exposure(["burst"]);
  assert.equal(exp?.spent, BigInt(items.length), "each item counted once however many suspects hold it");
  assert.equal(
    (await first.db.selectFrom("canary_exposures").select("suspect_id").execute()).length,
    rows.length,
  );

  // Bad input is refused with what is wrong, before any lock is taken.
  await assert.rejects(sets.reserve("burst", 99, 0, holder, "s"), (e) => isMemberNodeError(e, "not_found"));
  await assert.rejects(sets.reserve("burst", -1, 0, holder, "s"), (e) =>
    isMemberNodeError(e, "invalid_argument"),
  );
  await assert.rejects(sets.reserve("burst", 0, 2 as 0, holder, "s"), (e) =>
    isMemberNodeError(e, "invalid_argument"),
  );
  await assert.rejects(sets.reserve("burst", 0, 0, "x".repeat(65), "s"), (e) =>
    isMemberNodeError(e, "invalid_argument"),
  );
  await assert.rejects(sets.reserve("bad id!", 0, 0, holder, "s"), (e) =>
    isMemberNodeError(e, "invalid_argument"),
  );
}

/**
 * The same burst through session admission (CanarySets.admit, what MatchSessions does): sessions for more
 * suspects than the policy allows are refused at the start, before sending anything, and the admitted ones
 * are never refused mid-way — no canary is spent on a session that cannot finish.
 */
async function admittedBurst(store: Store<MemberNodeDatabase>): Promise<void> {
  const MAX = 3;
  const pairs = parseCanaryPairsJsonl("sample", await readFile(SAMPLE_PAIRS, "utf8")).slice(0, 6);
  const sets = setsOn(store, MAX);
  await sets.import("admitted", pairs);
  const items = pairs.flatMap((_, i) => [
    [i, 0],
    [i, 1],
  ]) as [number, 0 | 1][];
  const outcomes = await Promise.all(
    Array.from({ length: 12 }, async (_, s) => {
      const suspect = `suspect-${s}`;
      const session = `session-${s}`;
      try {
        await sets.admit("admitted", suspect, session);
      } catch (err) {
        assert.ok(isMemberNodeError(err, "failed_precondition"), String(err));
        return "refused at start";
      }
      try {
        for (let k = 0; k < items.length; k++) {
          const [pair, item] = items[(k + s) % items.length] as [number, 0 | 1];
          await tick();
          await sets.reserve("admitted", pair, item, suspect, session);
        }
        return "finished";
      } catch (err) {
        return `refused mid-way: ${(err as Error).message}`;
      } finally {
        sets.release(session);
      }
    }),
  );
  assert.equal(outcomes.filter((o) => o === "finished").length, MAX, outcomes.join("; "));
  assert.equal(outcomes.filter((o) => o === "refused at start").length, 12 - MAX, outcomes.join("; "));
  // A retried session of an admitted suspect is admitted again; a new suspect is refused (every item is full).
  await sets.admit("admitted", "suspect-0", "session-0-retry");
  sets.release("session-0-retry");
  const holder = (
    await store.db
      .selectFrom("canary_exposures")
      .select("suspect_id")
      .where("commitment_id", "=", "admitted")
      .execute()
  )[0]?.suspect_id as string;
  await sets.admit("admitted", holder, "session-again");
  sets.release("session-again");
  await assert.rejects(sets.admit("admitted", "suspect-new", "session-new"), (e) =>
    isMemberNodeError(e, "failed_precondition"),
  );
}

test("session admission: a burst for more suspects than the policy is refused at the start, never mid-way", {
  timeout: 60_000,
}, async () => {
  await using store = await openTestStore<MemberNodeDatabase>("pglite-memory");
  await store.migrate(memberNodeMigrations);
  await admittedBurst(store);
});

for (const backend of ["pglite-memory", "postgres"] as TestBackend[]) {
  test(`canary reuse policy holds under a burst of concurrent sessions (${backend})`, {
    skip: backend === "postgres" ? (pg.skip ?? false) : false,
    timeout: 120_000,
  }, async () => {
    await using store = await openTestStore<MemberNodeDatabase>(
      backend,
      backend === "postgres" && pg.skip === undefined ? { url: pg.url } : {},
    );
    await store.migrate(memberNodeMigrations);
    if (backend !== "postgres" || pg.skip !== undefined) {
      await burst([store]);
      return;
    }
    // A second pool on the same schema: the lock must hold across connections, not only in this object.
    await using other = await openStore<MemberNodeDatabase>({
      kind: "postgres",
      url: pg.url,
      schema: store.schema,
    });
    await burst([store, other]);
  });
}
