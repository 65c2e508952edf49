/**
 * `lineage witness init | pubkey | serve`: the key is written like keygen's, bad flags are refused with an
 * error naming them, and a served witness cosigns a real hub-signed checkpoint over HTTP.
 */
import assert from "node:assert/strict";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  checkWitnessQuorum,
  hubCheckpointSource,
  trustRootFromVerifierKey,
  withWitnesses,
} from "@lineage/auditor";
import {
  Ed25519PrivateKey,
  ed25519NoteSigner,
  formatAddCheckpointRequest,
  formatCosignatureVerifierKey,
  formatVerifierKey,
  MerkleTree,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  signCheckpoint,
} from "@lineage/crypto";
import { insecureChannelCredentials } from "@lineage/rpc";
import { type CapturedIo, captureIo } from "../capture-io.js";
import { EXIT } from "../cli-error.js";
import { main } from "../main.js";
import { whileServing } from "../serving-hub.js";

const dir = mkdtempSync(join(tmpdir(), "lineage-witness-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const io = (signal?: AbortSignal): CapturedIo => captureIo({ cwd: dir, signal });
const NAME = "witness.example/w1";
const ORIGIN = "lineage.example/log";

test("witness init writes a 0600 key and prints the verifier key that pubkey prints again; refuses to overwrite", async () => {
  const a = io();
  assert.equal(
    await main(["witness", "init", "--name", NAME, "--out", "w.pem", "--json"], a),
    EXIT.ok,
    a.err(),
  );
  const vkey = (JSON.parse(a.out()) as { witness_verifier_key: string }).witness_verifier_key;
  assert.equal(parseCosignatureVerifierKey(vkey).name, NAME);
  assert.equal(statSync(join(dir, "w.pem")).mode & 0o777, 0o600);
  const b = io();
  assert.equal(
    await main(["witness", "pubkey", "--name", NAME, "--key", "w.pem", "--json"], b),
    EXIT.ok,
    b.err(),
  );
  assert.equal((JSON.parse(b.out()) as { witness_verifier_key: string }).witness_verifier_key, vkey);
  const c = io();
  assert.equal(await main(["witness", "init", "--name", NAME, "--out", "w.pem"], c), EXIT.usage);
  assert.match(c.err(), /exists/);
  symlinkSync(join(dir, "elsewhere.pem"), join(dir, "link.pem"));
  const d = io();
  assert.equal(
    await main(["witness", "init", "--name", NAME, "--out", "link.pem", "--force"], d),
    EXIT.usage,
  );
  assert.match(d.err(), /symbolic link/);
  const e = io();
  assert.equal(await main(["witness", "init", "--name", "bad name", "--out", "x.pem"], e), EXIT.usage);
  assert.match(e.err(), /--name/);
  assert.ok(!readdirSync(dir).includes("x.pem"), "nothing written for a bad name");
});

test("witness serve refuses bad --log values, plaintext off loopback, and a key file open to others", async () => {
  const logKey = Ed25519PrivateKey.generate();
  writeFileSync(join(dir, "log.vkey"), `${formatVerifierKey(ORIGIN, logKey.publicKey)}\n`);
  writeFileSync(join(dir, "junk.vkey"), "not a key\n");
  const base = ["witness", "serve", "--name", NAME, "--key", "w.pem", "--state", "st"];
  const cases: Array<[string[], RegExp]> = [
    [[], /at least one --log/],
    [["--log", "log.vkey"], /ORIGIN=VKEYFILE/],
    [["--log", `${ORIGIN}=missing.vkey`], /cannot read --log/],
    [["--log", `${ORIGIN}=junk.vkey`], /does not hold a C2SP Ed25519 verifier key/],
    [["--log", `${ORIGIN}=log.vkey`, "--log", `${ORIGIN}=log.vkey`], /given twice/],
    [["--log", `${ORIGIN}=log.vkey`, "--listen", "0.0.0.0:7380"], /refusing plaintext/],
    [["--log", `${ORIGIN}=log.vkey`, "--listen", "nowhere"], /--listen/],
  ];
  for (const [args, re] of cases) {
    const x = io();
    const code = await main([...base, ...args], x);
    assert.notEqual(code, EXIT.ok, args.join(" "));
    assert.match(x.err(), re, args.join(" "));
  }
  writeFileSync(join(dir, "open.pem"), readFileSync(join(dir, "w.pem")), { mode: 0o644 });
  const y = io();
  const code = await main(
    ["witness", "serve", "--name", NAME, "--key", "open.pem", "--state", "st", "--log", `${ORIGIN}=log.vkey`],
    y,
  );
  assert.equal(code, EXIT.usage);
  assert.match(y.err(), /accessible by group or others/);
});

test("witness serve cosigns a hub-signed checkpoint over HTTP and refuses an older one afterwards", async () => {
  const logKey = Ed25519PrivateKey.generate();
  writeFileSync(join(dir, "log2.vkey"), `${formatVerifierKey(ORIGIN, logKey.publicKey)}\n`);
  const ac = new AbortController();
  const s = io(ac.signal);
  const running = main(
    [
      ...["witness", "serve", "--name", NAME, "--key", "w.pem", "--state", "st2"],
      ...["--log", `${ORIGIN}=log2.vkey`, "--listen", "127.0.0.1:0", "--json"],
    ],
    s,
  );
  let url = "";
  for (let i = 0; i < 200 && !url; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (s.out().trim().endsWith("}")) url = (JSON.parse(s.out()) as { url: string }).url;
  }
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, s.err());
  // A second witness on the same state folder would serialise only its own requests: refused.
  const second = io();
  assert.equal(
    await main(
      [
        ...["witness", "serve", "--name", NAME, "--key", "w.pem", "--state", "st2"],
        ...["--log", `${ORIGIN}=log2.vkey`, "--listen", "127.0.0.1:0"],
      ],
      second,
    ),
    EXIT.unavailable,
  );
  assert.match(second.err(), /--state: the witness state .* is in use/);
  try {
    const tree = MerkleTree.fromLeaves([1, 2, 3, 4, 5].map((i) => new Uint8Array([i])));
    const signer = ed25519NoteSigner(ORIGIN, logKey);
    const note = (n: number) => signCheckpoint({ origin: ORIGIN, size: n, rootHash: tree.root(n) }, [signer]);
    const res = await fetch(`${url}/add-checkpoint`, {
      method: "POST",
      body: formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(4) }),
    });
    assert.equal(res.status, 200);
    const vkey = (JSON.parse(s.out()) as { witness_verifier_key: string }).witness_verifier_key;
    openCheckpoint(note(4) + (await res.text()), {
      log: parseVerifierKey(formatVerifierKey(ORIGIN, logKey.publicKey)),
      witnesses: [parseCosignatureVerifierKey(vkey).verifier],
      witnessThreshold: 1,
    });
    const old = await fetch(`${url}/add-checkpoint`, {
      method: "POST",
      body: formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note(2) }),
    });
    assert.equal(old.status, 409);
    assert.equal(await old.text(), "4\n");
    assert.match(s.err(), /refused: rollback/);
  } finally {
    ac.abort();
    assert.equal(await running, EXIT.ok);
  }
});

test("hub serve --witness: the served checkpoint carries the witness's cosignature; bad --witness values are refused", async () => {
  const k = io();
  assert.equal(
    await main(["hub", "keygen", "--out", "hub.pem", "--origin", ORIGIN, "--json"], k),
    EXIT.ok,
    k.err(),
  );
  const hubVkey = (JSON.parse(k.out()) as { verifier_key: string }).verifier_key;
  writeFileSync(join(dir, "hub.vkey"), `${hubVkey}\n`);
  // An empty log: its first GetCheckpoint signs size 0, which the hub then has the witness cosign.
  const ac = new AbortController();
  const s = io(ac.signal);
  const running = main(
    [
      ...["witness", "serve", "--name", NAME, "--key", "w.pem", "--state", "st3"],
      ...["--log", `${ORIGIN}=hub.vkey`, "--listen", "127.0.0.1:0", "--json"],
    ],
    s,
  );
  let url = "";
  for (let i = 0; i < 200 && !url; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (s.out().trim().endsWith("}")) url = (JSON.parse(s.out()) as { url: string }).url;
  }
  assert.ok(url, s.err());
  const wkey = (JSON.parse(s.out()) as { witness_verifier_key: string }).witness_verifier_key;
  const db = ["--data-dir", "hubdb-witnessed"];
  try {
    for (const [bad, re] of [
      ["nocomma", /URL,VKEY/],
      [`ftp://x,${wkey}`, /not http/],
      [`${url},${hubVkey}`, /cosignature\/v1/],
    ] as const) {
      const b = io();
      const code = await main(
        ["hub", "serve", "--key", "hub.pem", "--origin", ORIGIN, ...db, "--witness", bad],
        b,
      );
      assert.equal(code, EXIT.usage, bad);
      assert.match(b.err(), re);
    }
    await whileServing(
      dir,
      ["--key", "hub.pem", "--origin", ORIGIN, ...db, "--witness", `${url},${wkey}`],
      async (address) => {
        const trust = withWitnesses(trustRootFromVerifierKey(hubVkey, ORIGIN), [wkey]);
        using source = hubCheckpointSource(address, insecureChannelCredentials());
        let cosigners = 0;
        for (let i = 0; i < 100 && cosigners === 0; i++) {
          const note = await source.latestCheckpoint();
          try {
            cosigners = checkWitnessQuorum(note, trust, 1).cosigners.length;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        assert.equal(cosigners, 1, "the hub serves its checkpoint cosigned by the witness");
        // audit consistency requires the trusted witness on the served checkpoint...
        const audit = (wk: string, st: string) => [
          "audit",
          "consistency",
          "--hub",
          address,
          "--log-key",
          hubVkey,
          "--witness-key",
          wk,
          "--state",
          st,
          "--json",
        ];
        const a = io();
        assert.equal(await main(audit(wkey, "audit-st"), a), EXIT.ok, a.err() + a.out());
        assert.ok(
          (JSON.parse(a.out()) as { checks: Array<{ name: string }> }).checks.some(
            (c) => c.name === "checkpoint.witnesses",
          ),
        );
        // ...and refuses it when the witness it trusts is not the one that cosigned.
        const other = formatCosignatureVerifierKey(
          "witness.example/other",
          Ed25519PrivateKey.generate().publicKey,
        );
        const b = io();
        assert.equal(await main(audit(other, "audit-st2"), b), EXIT.failed);
        assert.equal((JSON.parse(b.out()) as { code: string }).code, "witness_quorum");
      },
    );
  } finally {
    ac.abort();
    assert.equal(await running, EXIT.ok);
  }
});
