import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isMemberNodeError } from "../member-node-error.js";
import { checkMemberNodeConfig, readMemberNodeConfig, redactConfig } from "./member-node-config.js";

const base = { member_id: "acme", signing_key_file: "key.pem" };

function refused(doc: unknown, re: RegExp, env: Record<string, string> = {}) {
  assert.throws(
    () => checkMemberNodeConfig(doc, "/etc/lineage", env),
    (e: unknown) => isMemberNodeError(e, "invalid_argument") && re.test((e as Error).message),
    `${JSON.stringify(doc)} should be refused with ${re}`,
  );
}

test("defaults: embedded database under the config's folder, in-process bus, loopback listener", () => {
  const c = checkMemberNodeConfig(base, "/etc/lineage");
  assert.equal(c.listen, "127.0.0.1:7450");
  assert.deepEqual(c.database, { kind: "pglite", dataDir: "/etc/lineage/.lineage/member-node" });
  assert.equal(c.nats, undefined);
  assert.equal(c.signingKeyFile, "/etc/lineage/key.pem");
  assert.deepEqual(c.adapters, {});
});

test("environment overrides replace the file's values", () => {
  const c = checkMemberNodeConfig({ ...base, database: { data_dir: "d" } }, "/x", {
    LINEAGE_MEMBER_ID: "globex",
    LINEAGE_MEMBER_LISTEN: "0.0.0.0:9000",
    LINEAGE_MEMBER_PG_URL: "postgres://u:secret@db/lineage",
    LINEAGE_MEMBER_NATS_URL: "nats://nats:4222",
    LINEAGE_MEMBER_HUB_ADDRESS: "hub.example:7443",
  });
  assert.equal(c.memberId, "globex");
  assert.equal(c.listen, "0.0.0.0:9000");
  assert.deepEqual(c.database, { kind: "postgres", url: "postgres://u:secret@db/lineage" });
  assert.equal(c.nats?.url, "nats://nats:4222");
  assert.equal(c.hub.address, "hub.example:7443");
  const shown = JSON.stringify(redactConfig(c));
  assert.ok(!shown.includes("secret"), "redacted");
});

test("NATS credentials: one way to authenticate, files resolved, LINEAGE_MEMBER_NATS_* overrides", () => {
  const n = { url: "tls://nats:4222", tls: { ca_file: "ca.pem", cert_file: "c.pem", key_file: "c.key" } };
  const c = checkMemberNodeConfig({ ...base, nats: { ...n, nkey_file: "acme.nk" } }, "/etc/lineage");
  assert.deepEqual(c.nats, {
    url: "tls://nats:4222",
    nkeyFile: "/etc/lineage/acme.nk",
    tls: { caFile: "/etc/lineage/ca.pem", certFile: "/etc/lineage/c.pem", keyFile: "/etc/lineage/c.key" },
    ensureStream: false,
  });
  const e = checkMemberNodeConfig({ ...base, nats: n }, "/etc/lineage", {
    LINEAGE_MEMBER_NATS_CREDS_FILE: "/run/secrets/acme.creds",
    LINEAGE_MEMBER_NATS_TLS_CA_FILE: "/run/secrets/ca.pem",
    LINEAGE_MEMBER_NATS_TLS_CERT_FILE: "/run/secrets/acme.pem",
    LINEAGE_MEMBER_NATS_TLS_KEY_FILE: "/run/secrets/acme.key",
  });
  assert.equal(e.nats?.credsFile, "/run/secrets/acme.creds");
  assert.deepEqual(e.nats?.tls, {
    caFile: "/run/secrets/ca.pem",
    certFile: "/run/secrets/acme.pem",
    keyFile: "/run/secrets/acme.key",
  });
  const u = checkMemberNodeConfig({ ...base, nats: { ...n, user: "a", pass_env: "P" } }, "/x", {
    LINEAGE_MEMBER_NATS_USER: "acme",
  });
  assert.equal(u.nats?.user, "acme");
  assert.equal(u.nats?.passEnv, "P");
  refused({ ...base, nats: { ...n, user: "a", nkey_file: "k" } }, /takes one of .*got user, nkey_file/);
  refused({ ...base, nats: { ...n, token_env: "T", creds_file: "c" } }, /got token_env, creds_file/);
  refused({ ...base, nats: { ...n, nkey_file: "k" } }, /got user, nkey_file/, {
    LINEAGE_MEMBER_NATS_USER: "a",
  });
  refused({ ...base, nats: { ...n, pass_env: "P" } }, /pass_env needs nats.user/);
  refused({ ...base, nats: { ...n, nkey_file: "" } }, /nats.nkey_file/);
  refused({ ...base, nats: { url: "nats://h:4222", tls: { cert_file: "c" } } }, /cert_file and key_file/);
});

test("bad values are refused with the field named", () => {
  refused({ ...base, tsl: {} }, /tsl is not a known field/);
  refused({ ...base, member_id: "Acme" }, /member_id/);
  refused({ ...base, listen: "localhost" }, /listen must be host:port/);
  refused({ ...base, database: { postgres_url: "mysql://x", data_dir: "d" } }, /database/);
  refused({ ...base, database: { postgres_url: "mysql://x" } }, /postgres_url must be a postgres/);
  refused({ ...base, database: { schema: "s" } }, /schema needs database.postgres_url/);
  refused({ ...base, nats: { url: "nats://u:pw@h:4222" } }, /must not carry a password/);
  refused({ ...base, nats: { url: "nats://h:4222", pass_env: "not a var" } }, /pass_env/);
  refused({ ...base, adapters: { main: { base_url: "ftp://h", model: "m" } } }, /adapters.main.base_url/);
  refused(
    { ...base, adapters: { main: { base_url: "http://k:v@h", model: "m" } } },
    /must not carry credentials/,
  );
  refused(
    { ...base, adapters: { main: { base_url: "http://h", model: "m", api_key: "sk-1" } } },
    /api_key is not a known field/,
  );
  refused(
    { ...base, adapters: { main: { base_url: "http://h", model: "m", concurrency: 0 } } },
    /concurrency/,
  );
  refused(
    { ...base, adapters: { "bad name": { base_url: "http://h", model: "m" } } },
    /not a valid adapter name/,
  );
  refused({ ...base, admin: { client_cert_sha256: ["zz"] } }, /client_cert_sha256\[0\]/);
  refused({ ...base, hub: { cert_file: "c.pem" } }, /cert_file and key_file together/);
  refused([], /must be an object/);
  refused({ ...base, signing_key_file: "" }, /signing_key_file/);
});

test("the config file must be private JSON, read without following a symlink", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-config-"));
  try {
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify(base), { mode: 0o600 });
    assert.equal((await readMemberNodeConfig(file)).signingKeyFile, join(dir, "key.pem"));
    chmodSync(file, 0o644);
    await assert.rejects(readMemberNodeConfig(file), /accessible by group or others \(mode 0644\)/);
    chmodSync(file, 0o600);
    writeFileSync(file, "{not json");
    await assert.rejects(readMemberNodeConfig(file), /is not valid JSON/);
    const link = join(dir, "link.json");
    symlinkSync(file, link);
    await assert.rejects(readMemberNodeConfig(link), /symbolic link/);
    await assert.rejects(readMemberNodeConfig(join(dir, "missing.json")), (e: unknown) =>
      isMemberNodeError(e, "not_found"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a config that is not JSON is refused by position, without quoting its text (it may hold a database password)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-config-"));
  try {
    const file = join(dir, "c.json");
    // An unquoted value: V8's message would quote the text around it, password included.
    writeFileSync(
      file,
      '{"member_id": "acme",\n "database": {"postgres_url": postgres://lineage:hunter2-secret@db/x}}',
      {
        mode: 0o600,
      },
    );
    await assert.rejects(readMemberNodeConfig(file), (e: unknown) => {
      assert.ok(isMemberNodeError(e, "invalid_argument"));
      assert.match(e.message, /is not valid JSON \(line 2, column \d+\)/);
      assert.ok(!e.message.includes("hunter2"), e.message);
      assert.ok(!e.message.includes("postgres://"), e.message);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the README's sample config (examples/member-node.json) passes the node's checks", async () => {
  const { readFileSync } = await import("node:fs");
  const file = join(import.meta.dirname, "../../../../examples/member-node.json");
  const c = checkMemberNodeConfig(JSON.parse(readFileSync(file, "utf8")), "/etc/lineage");
  assert.equal(c.memberId, "acme");
  assert.equal(c.database.kind, "postgres");
  assert.equal(c.tls?.clientCaFile, "/etc/lineage/tls/alliance-clients-ca.pem");
  assert.equal(c.adapters.main?.apiKeyEnv, "ACME_INFERENCE_KEY");
  assert.equal(c.canaries?.maxSuspectsPerCanary, 3);
});

test("canary reuse policy: default 3, set in the file, overridden by the environment, checked", () => {
  assert.equal(checkMemberNodeConfig(base, "/x").canaries?.maxSuspectsPerCanary, 3);
  const file = { ...base, canaries: { max_suspects_per_canary: 5 } };
  assert.equal(checkMemberNodeConfig(file, "/x").canaries?.maxSuspectsPerCanary, 5);
  assert.equal(
    checkMemberNodeConfig(file, "/x", { LINEAGE_MEMBER_MAX_SUSPECTS_PER_CANARY: "1" }).canaries
      ?.maxSuspectsPerCanary,
    1,
  );
  for (const v of [0, 1001, 2.5, "3", -1, null])
    refused(
      { ...base, canaries: { max_suspects_per_canary: v } },
      /canaries\.max_suspects_per_canary must be an integer in 1\.\.1000/,
    );
  refused({ ...base, canaries: { max_suspect: 3 } }, /canaries\.max_suspect is not a known field/);
  refused({ ...base, canaries: 3 }, /canaries must be an object/);
  for (const v of ["0", "1001", "3.0", "0x3", " 3", "three"])
    refused(base, /LINEAGE_MEMBER_MAX_SUSPECTS_PER_CANARY\) must be an integer in 1\.\.1000/, {
      LINEAGE_MEMBER_MAX_SUSPECTS_PER_CANARY: v,
    });
});

test("extra watermark queries: on by default (lineage-watermark-queries/3), switched off in the file or the environment, checked", () => {
  assert.equal(checkMemberNodeConfig(base, "/x").canaries?.watermarkQueries, true);
  const off = { ...base, canaries: { watermark_queries: false } };
  assert.equal(checkMemberNodeConfig(off, "/x").canaries?.watermarkQueries, false);
  const on = { ...base, canaries: { watermark_queries: true } };
  assert.equal(checkMemberNodeConfig(on, "/x").canaries?.watermarkQueries, true);
  assert.equal(
    checkMemberNodeConfig(on, "/x", { LINEAGE_MEMBER_WATERMARK_QUERIES: "false" }).canaries?.watermarkQueries,
    false,
  );
  assert.equal(
    checkMemberNodeConfig(base, "/x", { LINEAGE_MEMBER_WATERMARK_QUERIES: "0" }).canaries?.watermarkQueries,
    false,
  );
  assert.equal(
    checkMemberNodeConfig(off, "/x", { LINEAGE_MEMBER_WATERMARK_QUERIES: "1" }).canaries?.watermarkQueries,
    true,
  );
  // An empty variable is unset: the file's choice stands.
  assert.equal(
    checkMemberNodeConfig(off, "/x", { LINEAGE_MEMBER_WATERMARK_QUERIES: "" }).canaries?.watermarkQueries,
    false,
  );
  for (const v of ["yes", 1, 0, "TRUE", null])
    refused(
      { ...base, canaries: { watermark_queries: v } },
      /canaries\.watermark_queries must be true or false/,
    );
  refused(base, /LINEAGE_MEMBER_WATERMARK_QUERIES\) must be true or false/, {
    LINEAGE_MEMBER_WATERMARK_QUERIES: "on",
  });
});
