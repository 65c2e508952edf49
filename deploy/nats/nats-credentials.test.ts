/**
 * `lineage member serve` reaches NATS with the credentials an operator gives it (issue 9, "Run and
 * configure"): an nkey seed file, a user and password (from the variable `nats.pass_env` names), or a .creds
 * file (operator mode: user JWT + seed). Each is tried against a real nats-server that knows only that
 * identity, by starting the real member node from its config file: the node connects (and, with
 * `ensure_stream`, creates its sketch stream, which another connection then sees) or start-up fails with an
 * error naming the field. Key files are refused when others can read them. (The deployment's own identity,
 * mapped TLS client certificates, is exercised by nats-config.test.ts.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connectNatsBus } from "@lineage/bus";
import { Ed25519PrivateKey } from "@lineage/crypto";
import {
  type MemberNode,
  readMemberNodeConfig,
  silentNodeLogger,
  startMemberNode,
} from "@lineage/member-node";
import { nkeys } from "@nats-io/nats-core";
import { planServerTest } from "../../libs/bus/test/server-required.js";
import { findNatsServer, freePort, type RunningServer, startServer } from "./nats-test-server.js";

const natsServer = findNatsServer();
const plan = planServerTest(natsServer === undefined ? "nats-server is not installed" : undefined);
const live = plan.action === "skip" ? { skip: plan.reason } : {};
const need = (): string => {
  if (plan.action === "fail") assert.fail(plan.reason);
  return natsServer as string;
};
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const STREAM = `lineage-sketches-${createHash("sha256").update("acme").digest("hex").slice(0, 16)}`;

/** A temp dir with the member's signing key; writes private config files there. */
function nodeDir() {
  const dir = mkdtempSync(join(tmpdir(), "lineage-nats-creds-"));
  writeFileSync(join(dir, "member-key.pem"), Ed25519PrivateKey.generate().toPem(), { mode: 0o600 });
  const file = (name: string, text: string, mode = 0o600) => {
    writeFileSync(join(dir, name), text, { mode });
    chmodSync(join(dir, name), mode);
    return join(dir, name);
  };
  const config = (nats: Record<string, unknown>) =>
    file(
      "member-node.json",
      JSON.stringify({
        member_id: "acme",
        signing_key_file: "member-key.pem",
        listen: "127.0.0.1:0",
        database: { data_dir: "data" },
        nats: { ensure_stream: true, ...nats },
      }),
    );
  return { dir, file, config, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

async function start(configFile: string, env: Record<string, string> = {}): Promise<MemberNode> {
  const config = await readMemberNodeConfig(configFile, env);
  return startMemberNode({ config, env, logger: silentNodeLogger, epochPollMs: 0 });
}

async function server(bin: string, dir: string, body: (port: number) => string): Promise<RunningServer> {
  const port = await freePort();
  const conf = `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, "js")}" }\n${body(port)}\n`;
  const s = await startServer(bin, join(dir, "srv"), { "nats.conf": conf }, "nats.conf", port);
  return { ...s, url: `nats://127.0.0.1:${port}` };
}

test(
  "member serve connects with an nkey seed file or a user and password, and refuses bad ones",
  live,
  async (t) => {
    const bin = need();
    using d = nodeDir();
    const member = nkeys.createUser();
    const stranger = nkeys.createUser();
    const srv = await server(
      bin,
      d.dir,
      () => `accounts { A { jetstream: enabled, users: [
      { nkey: "${member.getPublicKey()}" }
      { user: "acme", password: "pw-0123456789" }
    ] } }`,
    );
    t.after(() => srv.stop());
    const seedFile = d.file("acme.nk", `${dec(member.getSeed())}\n`);

    await t.test("nkey seed file", async () => {
      const node = await start(d.config({ url: srv.url, nkey_file: seedFile }));
      await node.close();
      // The stream the node created is there for another user of the account.
      const other = await connectNatsBus({ servers: srv.url, user: "acme", pass: "pw-0123456789" });
      try {
        assert.equal((await other.streamInfo(STREAM)).name, STREAM);
      } finally {
        await other.close();
      }
    });

    await t.test("user and password (the variable nats.pass_env names)", async () => {
      const cfg = d.config({ url: srv.url, user: "acme", pass_env: "ACME_NATS_PASS" });
      const node = await start(cfg, { ACME_NATS_PASS: "pw-0123456789" });
      await node.close();
      await assert.rejects(start(cfg, { ACME_NATS_PASS: "wrong" }), { code: "unavailable" });
      await assert.rejects(start(cfg, {}), /nats.pass_env: environment variable ACME_NATS_PASS is not set/);
      // LINEAGE_MEMBER_NATS_USER overrides the file's user.
      await assert.rejects(
        start(cfg, { ACME_NATS_PASS: "pw-0123456789", LINEAGE_MEMBER_NATS_USER: "nobody" }),
      );
    });

    await t.test("refused: an unknown key, a readable seed file, a file that is no seed", async () => {
      const strangerFile = d.file("stranger.nk", dec(stranger.getSeed()));
      await assert.rejects(start(d.config({ url: srv.url, nkey_file: strangerFile })), {
        code: "unavailable",
      });
      const open = d.file("open.nk", dec(member.getSeed()), 0o644);
      await assert.rejects(
        start(d.config({ url: srv.url, nkey_file: open })),
        /accessible by group or others/,
      );
      const junk = d.file("junk.nk", "not a seed\n");
      await assert.rejects(start(d.config({ url: srv.url, nkey_file: junk })), /nats\.nkey_file: nkeySeed/);
      // The file named by LINEAGE_MEMBER_NATS_NKEY_FILE replaces the config's.
      await assert.rejects(
        start(d.config({ url: srv.url, nkey_file: seedFile }), { LINEAGE_MEMBER_NATS_NKEY_FILE: junk }),
        /nats\.nkey_file/,
      );
    });

    await t.test("off loopback without TLS, credentials are not sent", async () => {
      await assert.rejects(
        start(d.config({ url: "nats://192.0.2.1:4222", nkey_file: seedFile })),
        /not loopback: use tls:\/\/ or give nats\.tls/,
      );
    });
  },
);

/** A NATS JWT (alg ed25519-nkey) with `claims` issued by `issuer`. */
function jwt(issuer: nkeys.KeyPair, sub: string, name: string, nats: Record<string, unknown>): string {
  const b64 = (x: string | Uint8Array) => Buffer.from(x).toString("base64url");
  const header = b64(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const body = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub, nats };
  const jti = createHash("sha256").update(JSON.stringify(body)).digest("base64url");
  const payload = b64(JSON.stringify({ jti, ...body }));
  const sig = issuer.sign(new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${b64(sig)}`;
}

test("member serve connects with a .creds file to an operator-mode server", live, async (t) => {
  const bin = need();
  using d = nodeDir();
  const op = nkeys.createOperator();
  const acct = nkeys.createAccount();
  const user = nkeys.createUser();
  const unlimited = { subs: -1, data: -1, payload: -1 };
  const opJwt = jwt(op, op.getPublicKey(), "op", { type: "operator", version: 2 });
  const acctJwt = jwt(op, acct.getPublicKey(), "alliance", {
    type: "account",
    version: 2,
    limits: {
      ...unlimited,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    },
  });
  const userJwt = jwt(acct, user.getPublicKey(), "acme", { type: "user", version: 2, ...unlimited });
  // JetStream in operator mode needs a system account.
  const sys = nkeys.createAccount();
  const sysJwt = jwt(op, sys.getPublicKey(), "SYS", { type: "account", version: 2, limits: unlimited });
  const srv = await server(
    bin,
    d.dir,
    () =>
      `operator: "${opJwt}"\nsystem_account: ${sys.getPublicKey()}\nresolver: MEMORY\n` +
      `resolver_preload: { ${acct.getPublicKey()}: "${acctJwt}", ${sys.getPublicKey()}: "${sysJwt}" }`,
  );
  t.after(() => srv.stop());
  const creds = (seed: Uint8Array) =>
    `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${dec(seed)}\n------END USER NKEY SEED------\n`;
  const node = await start(
    d.config({ url: srv.url, creds_file: d.file("acme.creds", creds(user.getSeed())) }),
  );
  await node.close();
  // The JWT with someone else's seed does not authenticate; a file that is no .creds is named.
  await assert.rejects(
    start(d.config({ url: srv.url, creds_file: d.file("bad.creds", creds(nkeys.createUser().getSeed())) })),
    { code: "unavailable" },
  );
  await assert.rejects(
    start(d.config({ url: srv.url, creds_file: d.file("junk.creds", "hello\n") })),
    /nats\.creds_file: creds is not a NATS \.creds file/,
  );
});
