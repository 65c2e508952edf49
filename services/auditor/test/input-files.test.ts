/**
 * The auditor's input files and saved state under hostile conditions: a bundle or package "file" that never
 * ends (a device) or is gigabytes long is refused as too_large after reading at most its bound; concurrent
 * auditors saving the same log's checkpoint never leave a torn or mixed state file.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { clone, toBinary } from "@bufbuild/protobuf";
import { AttestationBundleSchema } from "@lineage/api";
import { Ed25519PrivateKey, ed25519NoteSigner, formatVerifierKey, signCheckpoint } from "@lineage/crypto";
import {
  AuditorState,
  bundleToJson,
  checkAgainstSaved,
  exitCodeFor,
  generateAuditorKey,
  isAuditError,
  MAX_BUNDLE_FILE_BYTES,
  parseBundle,
  readBundleFile,
  readDisclosurePackage,
  readSealedDisclosurePackage,
  trustRootFromVerifierKey,
  verifyBundle,
} from "../src/index.js";
import { buildScenario } from "./v2-fixture.js";

async function tooLarge(p: Promise<unknown>, what: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isAuditError(err), `expected an AuditError, got ${String(err)}`);
    assert.equal(err.code, "too_large", err.message);
    assert.match(err.message, what);
    return true;
  });
}

test("a bundle or package larger than its bound is too_large even when it is 3 GiB (sparse) — not an fs error", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-input-"));
  try {
    const big = join(dir, "big.bundle");
    const fh = await open(big, "w");
    await fh.truncate(3 * 1024 * 1024 * 1024);
    await fh.close();
    await tooLarge(readBundleFile(big), /bundle file .* exceeds \d+ bytes/);
    await tooLarge(readDisclosurePackage(big), /disclosure package .* exceeds \d+ bytes/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a bundle 'file' that never ends (/dev/zero) is refused after reading its bound", {
  skip: !existsSync("/dev/zero"),
}, async () => {
  const started = Date.now();
  await tooLarge(readBundleFile("/dev/zero"), /exceeds \d+ bytes/);
  assert.ok(MAX_BUNDLE_FILE_BYTES < 64 * 1024 * 1024);
  assert.ok(Date.now() - started < 10_000, "reading stopped at the bound");
});

test("concurrent saves of one log's checkpoint leave exactly one whole note, and no temp files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-state-"));
  try {
    const key = Ed25519PrivateKey.generate();
    const name = "hub.example/log";
    const trust = trustRootFromVerifierKey(formatVerifierKey(name, key.publicKey));
    const signer = ed25519NoteSigner(name, key);
    // Notes of different lengths (extension lines), so a mix of two writes cannot pass for either.
    const notes = Array.from({ length: 24 }, (_, i) =>
      signCheckpoint(
        {
          origin: name,
          size: i + 1,
          rootHash: new Uint8Array(32).fill(i),
          extensions: Array.from({ length: i % 5 }, (_, j) => `pad ${"x".repeat(200 * (j + 1))}`),
        },
        [signer],
      ),
    );
    const states = notes.map(() => new AuditorState(dir));
    for (let round = 0; round < 5; round++) {
      await Promise.all(notes.map((n, i) => (states[i] as AuditorState).saveCheckpoint(trust, n)));
      const saved = await new AuditorState(dir).lastCheckpoint(trust);
      assert.ok(saved !== undefined && notes.includes(saved), `round ${round}: saved state is torn or mixed`);
    }
    const files = await readdir(dir);
    assert.deepEqual(
      files.filter((f) => f.includes(".tmp")),
      [],
      "temp files left behind",
    );
    const [only] = files;
    assert.equal(files.length, 1);
    assert.ok(notes.includes(await readFile(join(dir, only as string), "utf8")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a binary bundle is refused when truncated anywhere or padded with an unknown field (as its JSON form is)", async () => {
  const s = await buildScenario();
  const bin = toBinary(AttestationBundleSchema, s.bundle);
  assert.ok(verifyBundle(parseBundle(bin), s.trust).checks.length > 0);
  for (let n = 0; n < bin.length; n += 7) {
    assert.throws(
      () => verifyBundle(parseBundle(bin.subarray(0, n)), s.trust),
      (e: unknown) => isAuditError(e) && e.code !== "internal",
      `truncated to ${n} bytes`,
    );
  }
  // Field 8191 (varint) appended: an unknown field, at top level and inside the checkpoint.
  const padded = new Uint8Array([...bin, 0xf8, 0xff, 0x03, 0x01]);
  assert.throws(() => parseBundle(padded), /bundle has an unknown field in lineage\.v1\.AttestationBundle$/);
  const inner = clone(AttestationBundleSchema, s.bundle);
  (inner.checkpoint as unknown as { $unknown: unknown[] }).$unknown = [
    { no: 8191, wireType: 0, data: new Uint8Array([1]) },
  ];
  assert.throws(
    () => parseBundle(toBinary(AttestationBundleSchema, inner)),
    /bundle has an unknown field in lineage\.v1\.AttestationBundle\.checkpoint$/,
  );
  assert.throws(
    () =>
      parseBundle(
        new TextEncoder().encode(JSON.stringify({ ...JSON.parse(bundleToJson(s.bundle)), padding: "x" })),
      ),
    (e: unknown) => isAuditError(e, "malformed"),
  );
});

test("a damaged saved checkpoint is 'could not check' (unavailable, naming the file), not a bad hub signature", async () => {
  const s = await buildScenario();
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-state-"));
  try {
    const state = new AuditorState(dir);
    const note = new TextDecoder().decode(s.bundle.checkpoint?.signedNote);
    assert.equal((await checkAgainstSaved(state, s.trust, note)).outcome, "first_contact");
    const [file] = await readdir(dir);
    const path = join(dir, file as string);
    // Torn to half its length (a disk that lost the tail).
    await writeFile(path, note.slice(0, Math.floor(note.length / 2)));
    for (const run of [() => checkAgainstSaved(state, s.trust, note), () => state.lastCheckpoint(s.trust)]) {
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(isAuditError(err, "unavailable"), String(err));
        assert.equal(exitCodeFor(err.code), 3);
        assert.ok(err.message.includes(path), err.message);
        assert.match(err.message, /damaged/);
        return true;
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the auditor's private key file is read only when private, a regular file and small", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-audit-key-"));
  try {
    const key = generateAuditorKey();
    const pkg = join(dir, "pkg.sealed");
    await writeFile(pkg, new Uint8Array(64));
    const keyFile = join(dir, "auditor.key");
    await writeFile(keyFile, key.privateKeyText, { mode: 0o644 });
    await chmod(keyFile, 0o644);
    const refused = async (path: string, re: RegExp) =>
      assert.rejects(readSealedDisclosurePackage(pkg, path), (err: unknown) => {
        assert.ok(isAuditError(err, "invalid_argument"), String(err));
        assert.match(err.message, re);
        return true;
      });
    await refused(keyFile, /readable by group or others \(mode 644\); chmod 600 it/);
    await chmod(keyFile, 0o600);
    const link = join(dir, "link.key");
    await symlink(keyFile, link);
    await refused(link, /is a symbolic link/);
    await refused(dir, /is not a regular file/);
    // With a private key file, the package itself is what is refused (it is not an envelope).
    await assert.rejects(readSealedDisclosurePackage(pkg, keyFile), (err: unknown) =>
      isAuditError(err, "malformed"),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
