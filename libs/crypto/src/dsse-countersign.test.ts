import assert from "node:assert/strict";
import { sign as nodeSign } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import {
  Ed25519PrivateKey,
  isCryptoError,
  KeyRing,
  pae,
  paeBytes,
  signEnvelope,
  verifyEnvelope,
  verifyThenCountersign,
} from "./index.js";

test("paeBytes equals pae on random (type, payload), non-ASCII types included", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 80, unit: "binary" }),
      fc.uint8Array({ maxLength: 3000 }),
      (t, p) => {
        assert.deepEqual(new Uint8Array(paeBytes(t, p)), pae(t, p));
      },
    ),
  );
});

test("verifyThenCountersign: verifies, then countersigns the same PAE; failures carry codes", async () => {
  const member = Ed25519PrivateKey.generate();
  const hub = Ed25519PrivateKey.generate();
  const other = Ed25519PrivateKey.generate();
  const countersign = async (m: Uint8Array) => hub.sign(m);
  const opts = { key: member.publicKey, countersignerKeyId: hub.keyId, countersign };
  const env = signEnvelope("application/x-test", new Uint8Array([1, 2, 3]), member);
  const out = await verifyThenCountersign(env, opts);
  verifyEnvelope(out, {
    keys: new KeyRing([member.publicKey, hub.publicKey]),
    requiredKeyIds: [member.keyId, hub.keyId],
  });
  const code = (c: string) => (e: unknown) => isCryptoError(e, c as never);
  await assert.rejects(verifyThenCountersign(out, opts), code("invalid_argument"));
  await assert.rejects(
    verifyThenCountersign(signEnvelope("application/x-test", new Uint8Array([1]), other), opts),
    code("unknown_key"),
  );
  const forged = { ...env, payload: new Uint8Array([1, 2, 4]) };
  let signed = 0;
  await assert.rejects(
    verifyThenCountersign(forged, {
      ...opts,
      countersign: async (m) => {
        signed++;
        return countersign(m);
      },
    }),
    code("bad_signature"),
  );
  assert.equal(signed, 0, "nothing is countersigned before the signature verified");
  await assert.rejects(verifyThenCountersign({ ...env, payloadType: "" }, opts), code("malformed"));
  // Same bytes as the node:crypto signature over pae().
  assert.deepEqual(
    out.signatures[1]?.sig,
    new Uint8Array(nodeSign(null, pae(env.payloadType, env.payload), Buffer.from(hub.toPem()))),
  );
});
