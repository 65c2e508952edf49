// connectNatsBus's authentication and inbox options are checked before anything connects: one way to
// authenticate, an nkey seed that parses as a user seed, a .creds file that holds a JWT and a user seed, an
// inbox prefix that is a subject. (Connecting with each is exercised against nats-server by
// deploy/nats/nats-credentials.test.ts and deploy/nats/nats-config.test.ts.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { nkeys } from "@nats-io/nats-core";
import { BusError } from "./bus-error.js";
import { connectNatsBus } from "./nats-bus.js";

const refused = (opts: Parameters<typeof connectNatsBus>[0], re: RegExp) =>
  assert.rejects(
    connectNatsBus(opts),
    (e: unknown) => e instanceof BusError && e.code === "invalid_argument" && re.test(e.message),
  );
// Nothing listens here: a check that passed would fail with `unavailable` instead.
const servers = "nats://127.0.0.1:1";
const seed = new TextDecoder().decode(nkeys.createUser().getSeed());

test("one way to authenticate, and seeds and creds that parse, before connecting", async () => {
  await refused(
    { servers, user: "a", pass: "b", nkeySeed: seed },
    /one way to authenticate, not user\/pass and nkeySeed/,
  );
  await refused({ servers, token: "t", creds: "x" }, /not token and creds/);
  await refused({ servers, nkeySeed: "SUnot-a-seed" }, /nkeySeed is not an nkey user seed/);
  // An account seed is a valid seed but not a user's.
  await refused(
    { servers, nkeySeed: new TextDecoder().decode(nkeys.createAccount().getSeed()) },
    /nkeySeed is not/,
  );
  await refused(
    { servers, creds: `-----BEGIN USER NKEY SEED-----\n${seed}\n` },
    /creds is not a NATS \.creds file/,
  );
  await refused({ servers, inboxPrefix: "_INBOX.a b" }, /inboxPrefix/);
  await assert.rejects(
    connectNatsBus({
      servers,
      nkeySeed: seed,
      inboxPrefix: "_INBOX.acme",
      maxReconnectAttempts: 0,
      timeoutMs: 1000,
    }),
    (e: unknown) => e instanceof BusError && e.code === "unavailable",
  );
});
