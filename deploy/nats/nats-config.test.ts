/**
 * deploy/nats/nats-server.conf states the transport and least-privilege rules of issue 8: TLS with
 * verified client certificates, one alliance account, per-member subject permissions, JetStream on.
 * The file is parsed here (a small parser for the subset of the NATS config format it uses) and each
 * property checked; then it is RUN: nats-server from the deploy file (test certificates and free ports
 * templated in, nats-test-server.ts), the hub and two member nodes connected with their client
 * certificates through the project's bus (libs/bus, with the inbox prefix the member runtime sets), and
 * each rule exercised — sketches into JetStream and the hub's durable consumer, forged publishes refused,
 * session request-reply answered by the addressed member only, alerts and inboxes private, gossip public
 * but unforgeable — on one server and on the three-server cluster of nats-cluster.conf.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AlertKind } from "@lineage/api";
import { type Bus, connectNatsBus } from "@lineage/bus";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  alertSubject,
  checkpointSubject,
  EPOCH_ROTATED_SUBJECT,
  SKETCH_CONSUMER,
  SKETCH_STREAM,
  SKETCH_SUBJECTS,
} from "@lineage/hub";
import {
  memberInboxPrefix,
  readMemberNodeConfig,
  sessionRequestSubject,
  silentNodeLogger,
  sketchSubject,
  startMemberNode,
} from "@lineage/member-node";
import { planServerTest } from "../../libs/bus/test/server-required.js";
import { spawnHub } from "../../services/cli/src/commands/hub-serve-world.js";
import {
  findNatsServer,
  freePort,
  NATS_DIR,
  type RunningServer,
  startServer,
  TestPki,
  templateClusterConf,
  templateServerConf,
} from "./nats-test-server.js";

type Value = string | number | boolean | Value[] | { [k: string]: Value };
type Obj = { [k: string]: Value };

/** Parses the NATS config subset: `key: v` / `key = v` / `key { }`, arrays, quoted or bare strings, comments. */
function parseNatsConf(text: string): Obj {
  let i = 0;
  const ws = () => {
    for (;;) {
      while (i < text.length && /[\s,;]/.test(text[i] as string)) i++;
      if (text[i] === "#" || (text[i] === "/" && text[i + 1] === "/")) {
        while (i < text.length && text[i] !== "\n") i++;
      } else return;
    }
  };
  const fail = (what: string): never => {
    throw new Error(`nats conf: ${what} at offset ${i}: ${JSON.stringify(text.slice(i, i + 30))}`);
  };
  const key = (): string => {
    if (text[i] === '"') return str();
    const m = /^[A-Za-z0-9_$.-]+/.exec(text.slice(i));
    if (!m) return fail("expected a key");
    i += m[0].length;
    return m[0];
  };
  const str = (): string => {
    i++;
    let out = "";
    while (text[i] !== '"') {
      if (i >= text.length) fail("unterminated string");
      out += text[i++];
    }
    i++;
    return out;
  };
  const value = (): Value => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      return obj("}");
    }
    if (c === "[") {
      i++;
      const arr: Value[] = [];
      for (;;) {
        ws();
        if (text[i] === "]") {
          i++;
          return arr;
        }
        arr.push(value());
      }
    }
    if (c === '"') return str();
    const m = /^[^\s,;#}\]]+/.exec(text.slice(i));
    if (!m) return fail("expected a value");
    i += m[0].length;
    const v = m[0];
    if (v === "true" || v === "enabled") return true;
    if (v === "false" || v === "disabled") return false;
    return /^\d+$/.test(v) ? Number(v) : v;
  };
  const obj = (close: string | null): Obj => {
    const o: Obj = {};
    for (;;) {
      ws();
      if (close === null ? i >= text.length : text[i] === close) {
        i++;
        return o;
      }
      if (i >= text.length) fail("unexpected end");
      const k = key();
      ws();
      if (text[i] === ":" || text[i] === "=") i++;
      if (Object.hasOwn(o, k)) fail(`duplicate key ${k}`);
      o[k] = value();
    }
  };
  return obj(null);
}

const file = join(import.meta.dirname, "nats-server.conf");
const conf = parseNatsConf(readFileSync(file, "utf8"));
const at = (v: Value | undefined, ...path: string[]): Value | undefined => {
  let cur = v;
  for (const p of path)
    cur = cur !== undefined && typeof cur === "object" && !Array.isArray(cur) ? cur[p] : undefined;
  return cur;
};
const strings = (v: Value | undefined): string[] => {
  assert.ok(Array.isArray(v), "expected a list");
  return v.map((x) => {
    assert.equal(typeof x, "string");
    return x as string;
  });
};

/** True when NATS subject `subject` (may hold wildcards, matched literally) is covered by `pattern`. */
function covers(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let k = 0; k < p.length; k++) {
    if (p[k] === ">") return s.length > k;
    if (k >= s.length) return false;
    if (p[k] !== "*" && p[k] !== s[k]) return false;
  }
  return p.length === s.length;
}

test("the parser reads what it is given and refuses what it cannot read", () => {
  assert.deepEqual(parseNatsConf('a: 1\nb { c: "x y", d: [e, "f"] } # note\ng = true'), {
    a: 1,
    b: { c: "x y", d: ["e", "f"] },
    g: true,
  });
  assert.throws(() => parseNatsConf("a: 1\na: 2"), /duplicate key a/);
  assert.throws(() => parseNatsConf('a: "open'), /unterminated string/);
  assert.throws(() => parseNatsConf("a { b: 1"), /unexpected end/);
});

test("TLS is required with verified, mapped client certificates; JetStream is on", () => {
  assert.equal(typeof at(conf, "tls", "cert_file"), "string");
  assert.equal(typeof at(conf, "tls", "key_file"), "string");
  assert.equal(typeof at(conf, "tls", "ca_file"), "string", "client certificates must chain to a CA");
  assert.equal(at(conf, "tls", "verify_and_map"), true, "client certificates are required and name the user");
  assert.equal(at(conf, "http") === undefined || String(at(conf, "http")).startsWith("127.0.0.1:"), true);
  assert.equal(typeof at(conf, "jetstream", "store_dir"), "string");
  assert.equal(at(conf, "accounts", "ALLIANCE", "jetstream"), true);
  assert.equal(at(conf, "no_auth_user"), undefined, "no anonymous connections");
  // No password or token anywhere: identities come from certificates.
  assert.doesNotMatch(readFileSync(file, "utf8"), /^\s*(password|pass|token|authorization)\s*[:=]/m);
});

const users = (at(conf, "accounts", "ALLIANCE", "users") ?? []) as Obj[];
const members = users.filter((u) => /,OU=member,/.test(String(u.user)));
const hubUser = users.find((u) => u.user === "CN=hub,OU=hub,O=lineage") as Obj;

test("one alliance account; each member may speak only for itself, the hub cannot speak for a member", () => {
  const accounts = at(conf, "accounts") as Obj;
  assert.deepEqual(Object.keys(accounts).sort(), ["ALLIANCE", "SYS"]);
  assert.ok(members.length >= 2 && hubUser !== undefined);
  assert.equal(users.length, members.length + 1, "the hub and the members, nobody else");
  const ids: string[] = [];
  for (const u of members) {
    const m = /^CN=([a-z0-9][a-z0-9-]{0,63}),OU=member,O=lineage$/.exec(String(u.user));
    assert.ok(m, `member user ${String(u.user)} is a certificate subject naming one member`);
    const id = m[1] as string;
    ids.push(id);
    const pub = strings(at(u, "permissions", "publish", "allow"));
    const sub = strings(at(u, "permissions", "subscribe", "allow"));
    assert.equal(at(u, "permissions", "publish", "deny"), undefined);
    // Exactly its own subjects: no wildcard in the member-id position, no other member's id.
    assert.deepEqual(pub.sort(), [`lineage.sketch.${id}.>`, "$JS.API.INFO"].sort());
    assert.deepEqual(
      sub.sort(),
      [
        `lineage.session.${id}.request`,
        `lineage.alert.${id}.>`,
        `_INBOX.${id}.>`,
        "lineage.checkpoint.>",
        "lineage.epoch.>",
      ].sort(),
    );
    // Replies only to requests it received, one each.
    assert.equal(at(u, "permissions", "allow_responses", "max"), 1);
    for (const p of [...pub, ...sub]) assert.doesNotMatch(p, /^(\$JS\.API\.>|\$JS\.>|\$SYS|>|lineage\.>)/, p);
  }
  assert.equal(new Set(ids).size, ids.length, "one user per member");
  // Another member's subjects are covered by nobody else's permissions.
  for (const u of members) {
    const own = /^CN=([^,]+)/.exec(String(u.user))?.[1] as string;
    const perms = [
      ...strings(at(u, "permissions", "publish", "allow")),
      ...strings(at(u, "permissions", "subscribe", "allow")),
    ];
    for (const other of ids.filter((x) => x !== own)) {
      for (const s of [
        `lineage.sketch.${other}.m1`,
        `lineage.session.${other}.request`,
        `lineage.alert.${other}.case`,
        `_INBOX.${other}.abc.1`,
      ]) {
        assert.equal(
          perms.some((p) => covers(p, s)),
          false,
          `${own} may not touch ${s}`,
        );
      }
    }
  }
  // The hub publishes no sketch in a member's name and does not listen on a member's session subject.
  const hubPub = strings(at(hubUser, "permissions", "publish", "allow"));
  const hubSub = strings(at(hubUser, "permissions", "subscribe", "allow"));
  assert.equal(
    hubPub.some((p) => covers(p, "lineage.sketch.acme.m1")),
    false,
  );
  assert.equal(
    hubSub.some((p) => covers(p, "lineage.session.acme.request") || covers(p, "lineage.sketch.acme.m1")),
    false,
  );
  assert.equal(covers("lineage.sketch.acme.>", "lineage.sketch.acme.m1"), true);
  assert.equal(covers("lineage.sketch.acme.>", "lineage.sketch.globex.m1"), false);
});

// ---- the configuration on a running server ---------------------------------------------------------------

const natsServer = findNatsServer();
/** Outside CI a missing nats-server is a visible skip; under CI it fails (.ci/run installs it). */
const serverPlan = planServerTest(natsServer === undefined ? "nats-server is not installed" : undefined);
const live = serverPlan.action === "skip" ? { skip: serverPlan.reason } : {};
const needServer = (): string => {
  if (serverPlan.action === "fail") assert.fail(serverPlan.reason);
  return natsServer as string;
};

test(
  "nats-server -t accepts the file with test certificates in place of the deployment paths",
  live,
  async () => {
    const bin = needServer();
    const pki = new TestPki("lineage-nats-conf-");
    try {
      const text = templateServerConf(pki, {
        clientPort: await freePort(),
        httpPort: await freePort(),
        storeDir: join(pki.dir, "js"),
      });
      writeFileSync(join(pki.dir, "ok.conf"), text);
      const ok = spawnSync(bin, ["-t", "-c", join(pki.dir, "ok.conf")], { encoding: "utf8" });
      assert.equal(ok.status, 0, ok.stderr);
      // And the check can fail: two users with one certificate subject are refused.
      writeFileSync(join(pki.dir, "bad.conf"), text.replace(dn("globex"), dn("acme")));
      const bad = spawnSync(bin, ["-t", "-c", join(pki.dir, "bad.conf")], { encoding: "utf8" });
      assert.notEqual(bad.status, 0);
    } finally {
      pki.cleanup();
    }
  },
);

const HUB = "CN=hub,OU=hub,O=lineage";
const dn = (id: string) => `CN=${id},OU=member,O=lineage`;
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Waits until `cond()` holds (or fails after `ms`, saying `what`). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Clients of one test PKI, connected through the project's bus as the hub and member nodes connect. */
class Clients {
  readonly #pki: TestPki;
  readonly #open: Bus[] = [];
  constructor(pki: TestPki) {
    this.#pki = pki;
  }
  async connect(url: string, name: string, subject: string, inboxPrefix?: string): Promise<Bus> {
    const cert = this.#pki.client(name, subject);
    const bus = await connectNatsBus({
      servers: url,
      name,
      tls: { caFile: this.#pki.caFile, ...cert },
      maxReconnectAttempts: 0,
      timeoutMs: 5000,
      ...(inboxPrefix === undefined ? {} : { inboxPrefix }),
    });
    this.#open.push(bus);
    return bus;
  }
  /** A member node's connection: the inbox prefix its runtime sets. */
  member(url: string, id: string): Promise<Bus> {
    return this.connect(url, id, dn(id), memberInboxPrefix(id));
  }
  async close(): Promise<void> {
    await Promise.allSettled(this.#open.map((b) => b.close()));
  }
}

/** The hub's sketch stream and durable consumer (what startSketchConsumer ensures). */
async function hubIngest(hub: Bus): Promise<void> {
  await hub.ensureStream({ name: SKETCH_STREAM, subjects: [SKETCH_SUBJECTS], maxAgeMs: 86_400_000 });
  await hub.ensureConsumer(SKETCH_STREAM, { durable: SKETCH_CONSUMER, ackWaitMs: 30_000 });
}

/** Pulls the next sketch from the hub's durable consumer and acks it. */
async function nextSketch(hub: Bus): Promise<{ subject: string; data: string }> {
  const ms = await hub.messages(SKETCH_STREAM, SKETCH_CONSUMER);
  try {
    for await (const m of ms) {
      await m.ack();
      return { subject: m.subject, data: text(m.data) };
    }
  } finally {
    await ms.stop();
  }
  return assert.fail("the consumer ended");
}

/** Waits until the durable consumer has nothing pending and every delivery is acked (or termed). */
async function consumed(hub: Bus, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ci = await hub.consumerInfo(SKETCH_STREAM, SKETCH_CONSUMER);
    if (ci.numPending === 0 && ci.numAckPending === 0) return;
    if (Date.now() > end)
      assert.fail(`the hub did not consume (or its acks were refused): ${JSON.stringify(ci)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a running server enforces it: identities, sketches, sessions, alerts, gossip", live, async (t) => {
  const bin = needServer();
  const pki = new TestPki();
  const clientPort = await freePort();
  const srv = await startServer(
    bin,
    join(pki.dir, "srv"),
    {
      "nats-server.conf": templateServerConf(pki, {
        clientPort,
        httpPort: await freePort(),
        storeDir: join(pki.dir, "js"),
      }),
    },
    "nats-server.conf",
    clientPort,
  );
  const clients = new Clients(pki);
  t.after(async () => {
    await clients.close();
    await srv.stop();
    pki.cleanup();
  });
  const violation = (kind: "Publish" | "Subscription", user: string, subject: string) =>
    until(
      () => srv.log().includes(`${kind} Violation - User "${user}", Subject "${subject}"`),
      `the server to refuse ${user} ${kind} ${subject}`,
    );

  await t.test("only listed certificates from the alliance CA connect", async () => {
    await assert.rejects(clients.connect(srv.url, "stranger", "CN=stranger,OU=member,O=lineage"));
    const rogue = pki.client("rogue", dn("acme"), true);
    await assert.rejects(
      connectNatsBus({ servers: srv.url, tls: { caFile: pki.caFile, ...rogue }, maxReconnectAttempts: 0 }),
    );
    await assert.rejects(
      connectNatsBus({ servers: srv.url, tls: { caFile: pki.caFile }, maxReconnectAttempts: 0 }),
    );
  });

  const hub = await clients.connect(srv.url, "hub", HUB);
  const acme = await clients.member(srv.url, "acme");
  const globex = await clients.member(srv.url, "globex");
  await hubIngest(hub);

  await t.test(
    "a member's sketch lands in the hub's stream, acked; the durable consumer gets it",
    async () => {
      const subject = sketchSubject("acme", "model.one");
      const ack = await acme.publish(subject, bytes("sketch-1"), { msgId: "acme-1" });
      assert.equal(ack.stream, SKETCH_STREAM);
      assert.equal(ack.duplicate, false);
      assert.equal((await acme.publish(subject, bytes("sketch-1"), { msgId: "acme-1" })).duplicate, true);
      const withdrawn = await acme.publish(`${subject}.withdrawn`, bytes("w"), { msgId: "acme-w" });
      assert.equal(withdrawn.stream, SKETCH_STREAM);
      assert.deepEqual(await nextSketch(hub), { subject, data: "sketch-1" });
      assert.deepEqual(await nextSketch(hub), { subject: `${subject}.withdrawn`, data: "w" });
      await consumed(hub);
    },
  );

  await t.test("a member cannot publish under another member's id, nor use the JetStream API", async () => {
    await assert.rejects(
      acme.publish(sketchSubject("globex", "m"), bytes("forged"), { timeoutMs: 3000 }),
      /permission to publish to "lineage\.sketch\.globex\.m"/,
    );
    await assert.rejects(acme.deleteStream(SKETCH_STREAM), /permission to publish|timeout|no responders/i);
    await assert.rejects(
      acme.ensureStream({ name: "ACME_OWN", subjects: ["lineage.sketch.acme.own.>"] }),
      /permission to publish|timeout|no responders/i,
    );
    // The stream is intact and holds no forged sketch.
    const info = await hub.streamInfo(SKETCH_STREAM);
    assert.equal(info.messages, 2);
    await consumed(hub);
  });

  await t.test("the hub's session request to a member is answered by that member only", async () => {
    const seen: string[] = [];
    await acme.serve(sessionRequestSubject("acme"), async (req) => ({
      data: bytes(`acme answers ${text(req.data)}`),
      headers: {},
    }));
    // globex tries to take acme's sessions (serve, queue group, wildcard): the server refuses each, and
    // the bus says so (the subscription fails instead of silently never delivering).
    const denied = (subject: string) =>
      new RegExp(`permission to subscribe to "${subject.replaceAll(".", "\\.").replace(">", ".")}"`);
    await assert.rejects(
      globex.serve(sessionRequestSubject("acme"), async () => {
        seen.push("globex served");
        return { data: bytes("globex answers"), headers: {} };
      }),
      denied(sessionRequestSubject("acme")),
    );
    await assert.rejects(
      globex.serve(
        sessionRequestSubject("acme"),
        async () => {
          seen.push("globex queue");
          return { data: bytes("globex answers"), headers: {} };
        },
        { queue: "q" },
      ),
      denied(sessionRequestSubject("acme")),
    );
    await assert.rejects(
      globex.subscribe("lineage.session.>", () => void seen.push("globex wildcard")),
      denied("lineage.session.>"),
    );
    await violation("Subscription", dn("globex"), sessionRequestSubject("acme"));
    await violation("Subscription", dn("globex"), "lineage.session.>");
    for (let i = 0; i < 8; i++) {
      const r = await hub.request(sessionRequestSubject("acme"), bytes(`s${i}`), { timeoutMs: 5000 });
      assert.equal(text(r.data), `acme answers s${i}`);
    }
    // A member cannot send another member a session request (only the hub does).
    let globexAsked = 0;
    await globex.serve(sessionRequestSubject("globex"), async () => {
      globexAsked++;
      return { data: bytes("x"), headers: {} };
    });
    await assert.rejects(acme.request(sessionRequestSubject("globex"), bytes("fake"), { timeoutMs: 1000 }));
    await violation("Publish", dn("acme"), sessionRequestSubject("globex"));
    assert.equal(globexAsked, 0);
    assert.deepEqual(seen, []);
  });

  await t.test("a member cannot answer into someone else's inbox", async () => {
    const got: string[] = [];
    await hub.subscribe("_INBOX.forged.>", (e) => void got.push(e.subject));
    // A refused core publish is not silent: the bus reports the server's refusal.
    await assert.rejects(
      acme.emit("_INBOX.forged.1", bytes("forged reply")),
      /permission to publish to "_INBOX\.forged\.1"/,
    );
    await violation("Publish", dn("acme"), "_INBOX.forged.1");
    // An inbox of another member: not subscribable.
    await assert.rejects(
      acme.subscribe("_INBOX.globex.>", (e) => void got.push(e.subject)),
      /permission to subscribe to (its reply inbox )?"_INBOX\.globex\.>"/,
    );
    await violation("Subscription", dn("acme"), "_INBOX.globex.>");
    await globex.publish(sketchSubject("globex", "m2"), bytes("g"), { msgId: "g-1" });
    assert.deepEqual(await nextSketch(hub), { subject: sketchSubject("globex", "m2"), data: "g" });
    assert.deepEqual(got, []);
  });

  await t.test("alerts reach the member they concern, not another", async () => {
    const acmeGot: string[] = [];
    const globexGot: string[] = [];
    await acme.subscribe("lineage.alert.acme.>", (e) => void acmeGot.push(e.subject));
    await assert.rejects(
      globex.subscribe("lineage.alert.acme.>", (e) => void globexGot.push(e.subject)),
      /permission to subscribe to "lineage\.alert\.acme\.>"/,
    );
    await assert.rejects(
      globex.subscribe("lineage.alert.>", (e) => void globexGot.push(e.subject)),
      /permission to subscribe to "lineage\.alert\.>"/,
    );
    await violation("Subscription", dn("globex"), "lineage.alert.acme.>");
    await violation("Subscription", dn("globex"), "lineage.alert.>");
    await hub.emit(alertSubject("acme", AlertKind.CASE_OPENED), bytes("alert"));
    await until(() => acmeGot.length === 1, "acme's alert");
    // A member cannot raise an alert.
    await assert.rejects(
      globex.emit(alertSubject("acme", AlertKind.CASE_OPENED), bytes("fake")),
      /permission to publish/,
    );
    await violation("Publish", dn("globex"), alertSubject("acme", AlertKind.CASE_OPENED));
    await hub.emit(alertSubject("acme", AlertKind.CASE_OPENED), bytes("alert 2"));
    await until(() => acmeGot.length === 2, "acme's second alert");
    assert.deepEqual(globexGot, []);
  });

  await t.test(
    "the real hub (lineage hub serve --nats, its certificate) runs under the hub's permissions",
    async () => {
      const dir = join(pki.dir, "hub-serve");
      mkdirSync(dir);
      writeFileSync(join(dir, "hub.pem"), Ed25519PrivateKey.generate().toPem(), { mode: 0o600 });
      const cert = pki.client("hub-serve", HUB);
      const before = srv.log().length;
      const serving = await spawnHub(dir, [
        "--key",
        "hub.pem",
        "--origin",
        "lineage.test/nats-config",
        "--data-dir",
        "hubdata",
        "--listen",
        "127.0.0.1:0",
        "--nats",
        srv.url,
        "--nats-tls-ca",
        pki.caFile,
        "--nats-tls-cert",
        cert.certFile,
        "--nats-tls-key",
        cert.keyFile,
      ]);
      try {
        // Its durable consumer takes a member's message (refused by ingestion, so termed: acme is not
        // enrolled in this hub's log) and leaves nothing pending.
        await acme.publish(sketchSubject("acme", "from-node"), bytes("not a sketch"), { msgId: "acme-hub" });
        await consumed(hub, 30_000);
      } finally {
        assert.equal(await serving.stop(), 0, serving.stderr());
      }
      // Nothing the hub did was refused by the server.
      assert.doesNotMatch(srv.log().slice(before), /Violation - User "CN=hub/);
    },
  );

  await t.test(
    "a member node configured like deploy/member/acme.json connects with its certificate",
    async () => {
      // The deployed file's nats block, pointed at the test server and certificates: the node's JetStream
      // check needs its replies on _INBOX.acme (the runtime's inbox prefix), the only inbox acme may read.
      const deployed = JSON.parse(readFileSync(join(NATS_DIR, "..", "member", "acme.json"), "utf8"));
      assert.deepEqual(Object.keys(deployed.nats).sort(), ["tls", "url"]);
      assert.deepEqual(Object.keys(deployed.nats.tls).sort(), ["ca_file", "cert_file", "key_file"]);
      const cert = pki.client("acme-node", dn("acme"));
      const dir = join(pki.dir, "acme-node");
      mkdirSync(dir);
      writeFileSync(join(dir, "key.pem"), Ed25519PrivateKey.generate().toPem(), { mode: 0o600 });
      const file = join(dir, "member.json");
      const doc = {
        member_id: "acme",
        signing_key_file: "key.pem",
        listen: "127.0.0.1:0",
        database: { data_dir: "data" },
        nats: {
          url: srv.url,
          tls: { ca_file: pki.caFile, cert_file: cert.certFile, key_file: cert.keyFile },
        },
      };
      writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
      const node = await startMemberNode({
        config: await readMemberNodeConfig(file, {}),
        env: {},
        logger: silentNodeLogger,
        epochPollMs: 0,
      });
      await node.close();
      // Told to create its own sketch stream (ensure_stream), it is refused: the hub owns the JetStream API.
      writeFileSync(file, JSON.stringify({ ...doc, nats: { ...doc.nats, ensure_stream: true } }), {
        mode: 0o600,
      });
      await assert.rejects(
        startMemberNode({
          config: await readMemberNodeConfig(file, {}),
          env: {},
          logger: silentNodeLogger,
          epochPollMs: 0,
        }),
        /permission to publish|timeout|no responders/i,
      );
    },
  );

  await t.test(
    "checkpoint gossip and epoch announcements reach every member; members cannot forge them",
    async () => {
      const got: string[] = [];
      const subject = checkpointSubject("lineage.example/log");
      await acme.subscribe("lineage.checkpoint.>", (e) => void got.push(`acme ${text(e.data)}`));
      await globex.subscribe("lineage.checkpoint.>", (e) => void got.push(`globex ${text(e.data)}`));
      await acme.subscribe(EPOCH_ROTATED_SUBJECT, (e) => void got.push(`acme ${text(e.data)}`));
      await assert.rejects(globex.emit(subject, bytes("forged checkpoint")), /permission to publish/);
      await violation("Publish", dn("globex"), subject);
      await assert.rejects(acme.emit(EPOCH_ROTATED_SUBJECT, bytes("forged epoch")), /permission to publish/);
      await violation("Publish", dn("acme"), EPOCH_ROTATED_SUBJECT);
      await hub.emit(subject, bytes("checkpoint"));
      await hub.emit(EPOCH_ROTATED_SUBJECT, bytes("epoch"));
      await until(() => got.length === 3, "the gossip");
      assert.deepEqual(got.sort(), ["acme checkpoint", "acme epoch", "globex checkpoint"]);
    },
  );
});

test("the three-server cluster (nats-cluster.conf) carries the same rules across routes", live, async (t) => {
  const bin = needServer();
  const pki = new TestPki("lineage-nats-cluster-");
  const n = 3;
  const servers: RunningServer[] = [];
  const clients = new Clients(pki);
  t.after(async () => {
    await clients.close();
    await Promise.allSettled(servers.map((s) => s.stop()));
    pki.cleanup();
  });
  // Free ports are picked before the servers bind them, so a process elsewhere on the machine can take one in
  // between ("address already in use"): the cluster is then started again on fresh ports (at most 3 tries).
  for (let attempt = 1; ; attempt++) {
    const clientPorts: number[] = [];
    const clusterPorts: number[] = [];
    for (let i = 0; i < n; i++) {
      clientPorts.push(await freePort());
      clusterPorts.push(await freePort());
    }
    const results = await Promise.allSettled(
      clientPorts.map(async (clientPort, i) =>
        startServer(
          bin,
          join(pki.dir, `try${attempt}`, `srv${i + 1}`),
          {
            "nats-server.conf": templateServerConf(pki, {
              clientPort,
              httpPort: await freePort(),
              storeDir: join(pki.dir, `try${attempt}`, `js${i + 1}`),
            }),
            "nats-cluster.conf": templateClusterConf(pki, clusterPorts[i] as number, clusterPorts),
          },
          "nats-cluster.conf",
          clientPort,
          ["--name", `nats-${i + 1}`],
        ),
      ),
    );
    const up = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed === undefined) {
      servers.push(...up);
      break;
    }
    await Promise.allSettled(up.map((s) => s.stop()));
    if (attempt >= 3 || !/address already in use/.test(String(failed.reason))) throw failed.reason;
  }
  const [s1, s2, s3] = servers as [RunningServer, RunningServer, RunningServer];
  // JetStream answers once the routes are up and its meta leader is elected: retry until then.
  const end = Date.now() + 30_000;
  const retry = async <T>(f: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await f();
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const hub = await retry(() => clients.connect(s2.url, "hub", HUB));
  await retry(() => hubIngest(hub));
  const acme = await retry(() => clients.member(s1.url, "acme"));
  const globex = await retry(() => clients.member(s3.url, "globex"));
  const subject = sketchSubject("acme", "m1");
  const ack = await acme.publish(subject, bytes("over the routes"), { msgId: "c-1" });
  assert.equal(ack.stream, SKETCH_STREAM);
  assert.deepEqual(await nextSketch(hub), { subject, data: "over the routes" });
  await consumed(hub);
  await assert.rejects(
    globex.publish(sketchSubject("acme", "m1"), bytes("forged"), { timeoutMs: 3000 }),
    /permission to publish to "lineage\.sketch\.acme\.m1"/,
  );
  await acme.serve(sessionRequestSubject("acme"), async (r) => ({ data: r.data, headers: {} }));
  let stolen = 0;
  await assert.rejects(
    globex.serve(sessionRequestSubject("acme"), async (r) => {
      stolen++;
      return { data: r.data, headers: {} };
    }),
    /permission to subscribe to/,
  );
  await until(() => s3.log().includes("Subscription Violation"), "server 3 to refuse globex");
  // acme's subscription reaches server 2 over the routes asynchronously: until then the request has no
  // responders (a machine under load takes longer), so ask again while that is the answer, up to 10 s.
  const askUntil = Date.now() + 10_000;
  const ask = async (): Promise<Awaited<ReturnType<typeof hub.request>>> => {
    try {
      return await hub.request(sessionRequestSubject("acme"), bytes("session"), { timeoutMs: 5000 });
    } catch (err) {
      if (!/no responders/.test(String(err)) || Date.now() > askUntil) throw err;
      await new Promise((res) => setTimeout(res, 100));
      return ask();
    }
  };
  const r = await ask();
  assert.equal(text(r.data), "session");
  const gossip: string[] = [];
  await acme.subscribe("lineage.checkpoint.>", (e) => void gossip.push(text(e.data)));
  await globex.subscribe("lineage.checkpoint.>", (e) => void gossip.push(text(e.data)));
  // Interest crosses the routes asynchronously: emit until both members have heard one.
  await until(() => {
    void hub.emit(checkpointSubject("lineage.example/log"), bytes("cp"));
    return gossip.length >= 2;
  }, "gossip across the cluster");
  assert.equal(stolen, 0);
});
