// NATS permission refusals are clear errors, never `internal` and never silent (issue 12's multi-process
// run): on a private nats-server with a least-privilege user, a refused JetStream publish, core publish
// (emit), subscription, and reply inbox each fail `permission_denied` with the subject and the permission
// named; what the user may do still works.

import assert from "node:assert/strict";
import { test } from "node:test";
import { type BusError, connectNatsBus, isBusError } from "../src/index.js";
import { missingNatsServer, privateNatsServer } from "./private-nats-server.js";
import { planServerTest } from "./server-required.js";

const plan = planServerTest(missingNatsServer());
const skip = plan.action === "skip" ? plan.reason : false;
const bytes = (s: string) => new TextEncoder().encode(s);

const CONFIG = `
authorization {
  users = [
    { user: "admin", password: "admin-pw" }
    { user: "limited", password: "limited-pw", permissions: {
        publish: { allow: ["ok.>", "jsok.>", "$JS.API.>"] }
        subscribe: { allow: ["_INBOX.limited.>", "ok.>"] }
    } }
  ]
}
`;

const denied = (subject: string, permission: "publish to" | "subscribe to") => (e: unknown) => {
  assert.ok(isBusError(e, "permission_denied"), `expected permission_denied, got ${String(e)}`);
  assert.ok(
    (e as BusError).message.includes(`permission to ${permission} "${subject}"`),
    (e as BusError).message,
  );
  assert.equal((e as BusError).retryable, false);
  return true;
};

test("refused publishes, subscriptions and reply inboxes fail permission_denied naming subject and permission", {
  skip,
  timeout: 60_000,
}, async () => {
  if (plan.action === "fail") assert.fail(plan.reason);
  await using server = await privateNatsServer(CONFIG);
  await server.start();
  const admin = await connectNatsBus({
    servers: server.url,
    user: "admin",
    pass: "admin-pw",
    timeoutMs: 2000,
  });
  const bus = await connectNatsBus({
    servers: server.url,
    user: "limited",
    pass: "limited-pw",
    inboxPrefix: "_INBOX.limited",
    timeoutMs: 2000,
  });
  try {
    await admin.ensureStream({ name: "PERM_OK", subjects: ["jsok.>"] });
    await admin.ensureStream({ name: "PERM_NO", subjects: ["jsno.>"] });

    // Allowed: a JetStream publish, a core publish, a subscription.
    assert.equal((await bus.publish("jsok.a", bytes("x"), { msgId: "ok-1" })).stream, "PERM_OK");
    const got: string[] = [];
    const sub = await bus.subscribe("ok.>", (ev) => {
      got.push(ev.subject);
    });
    await bus.emit("ok.a", bytes("x"));
    await sub.stop();

    // JetStream publish to a subject the user may not publish to: refused at once, not a timeout.
    const t0 = Date.now();
    await assert.rejects(
      bus.publish("jsno.a", bytes("x"), { msgId: "no-1" }),
      denied("jsno.a", "publish to"),
    );
    assert.ok(Date.now() - t0 < 2000, `refused after ${Date.now() - t0} ms`);
    assert.equal((await admin.streamInfo("PERM_NO")).messages, 0);

    // A core publish the server refuses is not silent.
    await assert.rejects(bus.emit("no.a", bytes("x")), denied("no.a", "publish to"));
    // ... and a refusal of one subject does not taint another.
    await bus.emit("ok.b", bytes("x"));

    // Subscriptions and request-reply servers the user may not make.
    await assert.rejects(
      bus.subscribe("no.>", () => {}),
      denied("no.>", "subscribe to"),
    );
    await assert.rejects(
      bus.serve("no.svc", () => ({ data: bytes("") })),
      denied("no.svc", "subscribe to"),
    );
    assert.ok(got.includes("ok.a"));

    // A connection whose reply inbox the user may not subscribe to: refused, naming the inbox.
    await assert.rejects(
      connectNatsBus({ servers: server.url, user: "limited", pass: "limited-pw", timeoutMs: 2000 }),
      (e) =>
        isBusError(e, "permission_denied") &&
        /permission to subscribe to its reply inbox "_INBOX\.[^"]+"/.test(e.message),
    );
  } finally {
    await bus.close();
    await admin.close();
  }
});
