/**
 * deploy/nats/nats-server.conf states the transport and least-privilege rules of issue 8: TLS with
 * verified client certificates, hub and member accounts, per-member subject permissions, JetStream on.
 * The file is parsed here (a small parser for the subset of the NATS config format it uses) and each
 * property checked; when nats-server is installed, `nats-server -t` also validates it with test
 * certificates substituted for the deployment paths.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

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
  assert.equal(at(conf, "accounts", "HUB", "jetstream"), true);
  // No password or token anywhere: identities come from certificates.
  assert.doesNotMatch(readFileSync(file, "utf8"), /^\s*(password|pass|token|authorization)\s*[:=]/m);
});

test("hub and members are separate accounts; each member may speak only for itself", () => {
  const accounts = at(conf, "accounts") as Obj;
  assert.deepEqual(Object.keys(accounts).sort(), ["HUB", "MEMBERS", "SYS"]);
  const members = at(accounts, "MEMBERS", "users") as Obj[];
  assert.ok(Array.isArray(members) && members.length >= 2);
  const ids: string[] = [];
  for (const u of members) {
    const m = /^CN=([a-z0-9][a-z0-9._-]{0,63}),OU=member,O=lineage$/.exec(String(u.user));
    assert.ok(m, `member user ${String(u.user)} is a certificate subject naming one member`);
    const id = m[1] as string;
    ids.push(id);
    const pub = strings(at(u, "permissions", "publish", "allow"));
    const sub = strings(at(u, "permissions", "subscribe", "allow"));
    assert.equal(at(u, "permissions", "publish", "deny"), undefined);
    // Exactly its own subjects: no wildcard in the member-id position, no other member's id.
    assert.deepEqual(pub.sort(), [`lineage.sketch.${id}.>`, `lineage.session.${id}.reply`].sort());
    assert.deepEqual(
      sub.sort(),
      [
        `lineage.session.${id}.request`,
        `lineage.alert.${id}.>`,
        "lineage.checkpoint.>",
        `_INBOX.${id}.>`,
      ].sort(),
    );
    for (const p of [...pub, ...sub]) assert.doesNotMatch(p, /^(\$JS|\$SYS|>|lineage\.>)/, p);
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
        `lineage.session.${other}.reply`,
        `lineage.session.${other}.request`,
        `lineage.alert.${other}.case`,
      ]) {
        assert.equal(
          perms.some((p) => covers(p, s)),
          false,
          `${own} may not touch ${s}`,
        );
      }
    }
  }
  // The hub account carries the members' traffic across through explicit imports and exports only.
  const hubImports = (at(accounts, "HUB", "imports") as Obj[]).map((x) => at(x, "stream", "subject"));
  assert.deepEqual(hubImports.sort(), ["lineage.session.*.reply", "lineage.sketch.>"]);
  const memberImports = (at(accounts, "MEMBERS", "imports") as Obj[]).map((x) => at(x, "stream", "subject"));
  assert.deepEqual(memberImports.sort(), [
    "lineage.alert.>",
    "lineage.checkpoint.>",
    "lineage.session.*.request",
  ]);
  assert.equal(at(accounts, "MEMBERS", "jetstream"), undefined, "members get no JetStream API");
  assert.equal(covers("lineage.sketch.acme.>", "lineage.sketch.acme.m1"), true);
  assert.equal(covers("lineage.sketch.acme.>", "lineage.sketch.globex.m1"), false);
});

test("nats-server -t accepts the file with test certificates in place of the deployment paths", (t) => {
  // Debian installs it in /usr/sbin, which a non-root PATH may lack.
  const natsServer = ["nats-server", "/usr/sbin/nats-server"].find(
    (bin) => spawnSync(bin, ["--version"]).status === 0,
  );
  if (natsServer === undefined) {
    // Outside CI a visible skip; under any truthy CI the binary must be there (.ci/run installs it).
    const ci = process.env.CI;
    if (ci !== undefined && !["", "0", "false", "no", "off"].includes(ci.trim().toLowerCase())) {
      assert.fail("nats-server is not installed (CI must validate the NATS configuration)");
    }
    t.skip("nats-server is not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "lineage-nats-conf-"));
  try {
    const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    for (const name of ["ca", "server"]) {
      ossl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=${name}`,
      );
    }
    const text = readFileSync(file, "utf8")
      .replace("/etc/nats/tls/server.pem", join(dir, "server.pem"))
      .replace("/etc/nats/tls/server.key", join(dir, "server.key"))
      .replace("/etc/nats/tls/clients-ca.pem", join(dir, "ca.pem"))
      .replace("/var/lib/nats-server", join(dir, "js"));
    writeFileSync(join(dir, "ok.conf"), text);
    const ok = spawnSync(natsServer, ["-t", "-c", join(dir, "ok.conf")], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    // And the check can fail: an import from an account that does not exist is refused.
    writeFileSync(join(dir, "bad.conf"), text.replace("account: MEMBERS", "account: NOBODY"));
    const bad = spawnSync(natsServer, ["-t", "-c", join(dir, "bad.conf")], { encoding: "utf8" });
    assert.notEqual(bad.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
