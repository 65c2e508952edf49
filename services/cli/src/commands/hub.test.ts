import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { whileServing as serveHub } from "../serving-hub.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-hub-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(signal?: AbortSignal): CapturedIo {
  return captureIo({ cwd: dir, signal });
}

const ORIGIN = "lineage.test/log";
const db = ["--data-dir", "hubdb"];

/** The member signs its enrolment request; the secretariat logs it with the fingerprint it heard. */
async function enrol(memberId: string, heard?: (fp: string) => string): Promise<number> {
  const k = io();
  assert.equal(await main(["member", "keygen", "--out", `${memberId}.pem`, "--json"], k), EXIT.ok);
  writeFileSync(
    join(dir, `${memberId}.pub.pem`),
    (JSON.parse(k.out()) as { public_key_pem: string }).public_key_pem,
  );
  const r = io();
  assert.equal(
    await main(
      [
        "member",
        "enrol-request",
        "--key",
        `${memberId}.pem`,
        "--member-id",
        memberId,
        "--out",
        `${memberId}.req.json`,
        "--json",
      ],
      r,
    ),
    EXIT.ok,
    r.err(),
  );
  const fp = (JSON.parse(r.out()) as { fingerprint: string }).fingerprint;
  assert.match(fp, /^([0-9a-f]{4}-){15}[0-9a-f]{4}$/);
  const e = io();
  const code = await main(
    [
      "hub",
      "enrol",
      "--key",
      "hub.pem",
      "--origin",
      ORIGIN,
      ...db,
      "--request",
      `${memberId}.req.json`,
      "--fingerprint",
      heard === undefined ? fp : heard(fp),
      "--member-id",
      memberId,
      "--public-key",
      `${memberId}.pub.pem`,
      "--json",
    ],
    e,
  );
  if (heard !== undefined) return code === EXIT.ok ? -1 : -code;
  assert.equal(code, EXIT.ok, e.err());
  return (JSON.parse(e.out()) as { log_index: number }).log_index;
}

/** Serves the hub log until the callback is done, then interrupts it like Ctrl-C. */
function whileServing(fn: (address: string) => Promise<void>): Promise<void> {
  return serveHub(dir, ["--key", "hub.pem", "--origin", ORIGIN, ...db], fn);
}

test("hub keygen, enrol and serve; the auditor checks consistency across enrolments", async () => {
  const k = io();
  assert.equal(await main(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN, "--json"], k), EXIT.ok);
  const vkey = (JSON.parse(k.out()) as { verifier_key: string }).verifier_key;
  assert.match(vkey, /^lineage\.test\/log\+[0-9a-f]{8}\+/);

  assert.equal(await enrol("acme"), 0);
  const audit = ["audit", "consistency", "--log-key", vkey, "--state", "auditor", "--json"];
  await whileServing(async (address) => {
    const a = io();
    assert.equal(await main([...audit, "--hub", address], a), EXIT.ok, a.err());
  });
  assert.equal(await enrol("globex"), 1);
  // A fingerprint that is not the request key's: refused before anything is signed or logged.
  assert.equal(await enrol("initech", () => `0000-${"1111-".repeat(14)}2222`), -EXIT.failed);
  await whileServing(async (address) => {
    const a = io();
    assert.equal(await main([...audit, "--hub", address], a), EXIT.ok, a.err());
    assert.match(a.out(), /"size": ?2/);
    // A stranger's key is not the hub's: the same checkpoint fails verification.
    const other = io();
    assert.equal(
      await main(["hub", "keygen", "--out", "other.pem", "--origin", ORIGIN, "--json"], other),
      EXIT.ok,
    );
    const forged = (JSON.parse(other.out()) as { verifier_key: string }).verifier_key;
    const b = io();
    assert.equal(
      await main(["audit", "consistency", "--log-key", forged, "--state", "auditor2", "--hub", address], b),
      EXIT.failed,
    );
  });
});

test("hub flags are checked before anything opens", async () => {
  writeFileSync(join(dir, "not-a-cert.pem"), "hello");
  const e = io();
  assert.equal(
    await main(
      [
        "hub",
        "serve",
        "--key",
        "hub.pem",
        "--origin",
        ORIGIN,
        "--tls-cert",
        "not-a-cert.pem",
        "--tls-key",
        "hub.pem",
      ],
      e,
    ),
    EXIT.usage,
  );
  assert.match(e.err(), /--tls-cert not-a-cert\.pem is not PEM/);
  const a = io();
  assert.equal(await main(["hub", "serve", "--key", "nope.pem", "--origin", ORIGIN], a), EXIT.unavailable);
  assert.match(a.err(), /cannot read .*nope\.pem: ENOENT/);
  const b = io();
  assert.equal(
    await main(["hub", "serve", "--key", "hub.pem", "--origin", ORIGIN, "--listen", "nowhere"], b),
    EXIT.usage,
  );
  assert.match(b.err(), /--listen must be host:port/);
  const c = io();
  assert.equal(
    await main(["hub", "serve", "--key", "hub.pem", "--origin", ORIGIN, "--tls-cert", "x.pem"], c),
    EXIT.unavailable,
  );
  const d = io();
  assert.equal(
    await main(
      [
        "hub",
        "enrol",
        "--key",
        "hub.pem",
        "--origin",
        ORIGIN,
        "--member-id",
        "Bad Id!",
        "--request",
        "x",
        "--fingerprint",
        "y",
      ],
      d,
    ),
    EXIT.usage,
  );
  assert.match(d.err(), /--member-id must be/);
});
