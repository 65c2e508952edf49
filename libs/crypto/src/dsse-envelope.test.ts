import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fromBase64, toBase64 } from "./bytes.js";
import { CryptoError, type CryptoErrorCode } from "./crypto-error.js";
import {
  addSignature,
  type DsseEnvelope,
  envelopesEqual,
  pae,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
  verifyEnvelope,
  verifyEnvelopeAsync,
} from "./dsse-envelope.js";
import { Ed25519PrivateKey, KeyRing } from "./ed25519-key.js";

const enc = new TextEncoder();
const member = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(1));
const hub = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(2));
const stranger = Ed25519PrivateKey.fromSeed(new Uint8Array(32).fill(3));
const ring = new KeyRing([member.publicKey, hub.publicKey]);
const TYPE = "application/vnd.lineage.attestation+json";

function codeOf(fn: () => unknown): CryptoErrorCode | "none" {
  try {
    fn();
    return "none";
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
}

test("PAE matches the DSSE spec example (protocol.md, Test Vectors)", () => {
  // github.com/secure-systems-lab/dsse protocol.md: SERIALIZED_BODY "hello world",
  // PAYLOAD_TYPE "http://example.com/HelloWorld" -> "DSSEv1 29 http://example.com/HelloWorld 11 hello world".
  assert.equal(
    new TextDecoder().decode(pae("http://example.com/HelloWorld", enc.encode("hello world"))),
    "DSSEv1 29 http://example.com/HelloWorld 11 hello world",
  );
  assert.equal(new TextDecoder().decode(pae("", new Uint8Array())), "DSSEv1 0  0 ");
  // LEN counts UTF-8 bytes, not characters.
  assert.equal(new TextDecoder().decode(pae("é", enc.encode("ü"))), "DSSEv1 2 é 2 ü");
});

test("the DSSE spec's example envelope parses (keyid absent) and re-serialises canonically", () => {
  const spec = `{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}`;
  const env = parseEnvelope(spec);
  assert.equal(new TextDecoder().decode(env.payload), "hello world");
  assert.equal(env.signatures[0]?.keyid, "");
  assert.equal(
    serializeEnvelope(env),
    '{"payload":"aGVsbG8gd29ybGQ=","payloadType":"http://example.com/HelloWorld","signatures":[{"sig":"A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}',
  );
  // Its ECDSA signature is from no trusted key: never counted.
  assert.equal(
    codeOf(() => verifyEnvelope(env, { keys: ring })),
    "unknown_key",
  );
});

test("member signs, hub countersigns, verification with threshold and required keys", () => {
  const payload = enc.encode('{"suspect":"x"}');
  const signed = signEnvelope(TYPE, payload, member);
  const both = addSignature(signed, hub);
  assert.equal(both.signatures.length, 2);
  const r = verifyEnvelope(both, {
    keys: ring,
    threshold: 2,
    requiredKeyIds: [member.keyId, hub.keyId],
    payloadType: TYPE,
  });
  assert.deepEqual(r.verifiedKeyIds, [member.keyId, hub.keyId]);
  assert.deepEqual(r.payload, payload);
  // Only the member signature: threshold 2 or a required hub signature fails.
  assert.equal(
    codeOf(() => verifyEnvelope(signed, { keys: ring, threshold: 2 })),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => verifyEnvelope(signed, { keys: ring, requiredKeyIds: [hub.keyId] })),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => verifyEnvelope(signed, { keys: ring, payloadType: "other" })),
    "malformed",
  );
  // A stranger's signature does not count, and alone is unknown_key.
  const strangers = signEnvelope(TYPE, payload, stranger);
  assert.equal(
    codeOf(() => verifyEnvelope(strangers, { keys: ring })),
    "unknown_key",
  );
  assert.equal(
    codeOf(() => verifyEnvelope(addSignature(strangers, member), { keys: ring, threshold: 2 })),
    "bad_signature",
  );
  assert.equal(
    codeOf(() => addSignature(both, hub)),
    "invalid_argument",
  );
  assert.equal(
    codeOf(() => verifyEnvelope(both, { keys: ring, threshold: 0 })),
    "invalid_argument",
  );
});

test("a signature by a trusted key id over other bytes is bad_signature", () => {
  const env = signEnvelope(TYPE, enc.encode("a"), member);
  const forged: DsseEnvelope = { ...env, payload: enc.encode("b") };
  assert.equal(
    codeOf(() => verifyEnvelope(forged, { keys: ring })),
    "bad_signature",
  );
  // A hub key id claimed on a member signature.
  const relabelled: DsseEnvelope = {
    ...env,
    signatures: [{ keyid: hub.keyId, sig: env.signatures[0]?.sig as Uint8Array }],
  };
  assert.equal(
    codeOf(() => verifyEnvelope(relabelled, { keys: ring })),
    "bad_signature",
  );
});

test("JSON round trip; URL-safe base64 accepted; strict parsing rejects the rest with a code", () => {
  const env = addSignature(signEnvelope(TYPE, enc.encode("payload \u00ff\u0000"), member), hub);
  const json = serializeEnvelope(env);
  const back = parseEnvelope(json);
  assert.ok(envelopesEqual(env, back));
  assert.ok(envelopesEqual(env, parseEnvelope(enc.encode(json))));
  verifyEnvelope(back, { keys: ring, threshold: 2 });
  const obj = JSON.parse(json) as { payload: string; signatures: { keyid: string; sig: string }[] };
  const urlSafe = json.replace(
    obj.payload,
    obj.payload.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
  );
  assert.ok(envelopesEqual(env, parseEnvelope(urlSafe)));

  const sig0 = obj.signatures[0]?.sig as string;
  const bad: Array<[string, CryptoErrorCode]> = [
    ["", "malformed"],
    ["[]", "malformed"],
    ["{}", "malformed"],
    [json.replace('"payloadType"', '"payloadType":"x","payloadType"'), "malformed"], // duplicate key
    [json.replace("{", '{"extra":1,'), "malformed"], // unknown field
    [json.replace(`"keyid":"${member.keyId}",`, `"keyid":"${member.keyId}","x":1,`), "malformed"],
    [json.replace(',"signatures":', ',"sigs":'), "malformed"], // missing field
    [json.replace(sig0, `${sig0.slice(0, -4)}!!!!`), "malformed"], // bad base64
    [json.replace(sig0, sig0.replace(/=+$/, "")), "malformed"], // standard alphabet without padding
    [json.replace(`"${obj.payload}"`, "12"), "malformed"],
    [`${json} x`, "malformed"], // trailing data
    [json.replace(`"keyid":"${hub.keyId}"`, `"keyid":"${member.keyId}"`), "malformed"], // duplicate keyid
    [json.replace(`"${TYPE}"`, '""'), "malformed"],
    ['{"payload":"AA==","payloadType":"t","signatures":[]', "malformed"],
    ['{"payload":"AB==","payloadType":"t","signatures":[]}', "malformed"], // non-canonical base64 bits
    [`{"payload":"${"A".repeat(2_000_000)}","payloadType":"t","signatures":[]}`, "too_large"],
    [`{"a":${"[".repeat(100)}${"]".repeat(100)}}`, "too_large"],
  ];
  for (const [input, code] of bad)
    assert.equal(
      codeOf(() => parseEnvelope(input)),
      code,
      input.slice(0, 120),
    );
  const many = JSON.stringify({
    payload: "",
    payloadType: "t",
    signatures: Array.from({ length: 17 }, (_, i) => ({ keyid: `k${i}`, sig: "AA==" })),
  });
  assert.equal(
    codeOf(() => parseEnvelope(many)),
    "too_large",
  );
  assert.equal(
    codeOf(() => parseEnvelope(new Uint8Array([0x7b, 0xff, 0x7d]))),
    "malformed",
  );
});

test("property: sign/verify round trip through JSON; any flipped bit in payload, type or signature fails", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 256 }),
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.nat(),
      (payload, type, flip) => {
        const env = parseEnvelope(serializeEnvelope(addSignature(signEnvelope(type, payload, member), hub)));
        verifyEnvelope(env, { keys: ring, threshold: 2 });
        // Flip a bit of the payload.
        if (payload.length > 0) {
          const p = env.payload.slice();
          const bit = flip % (p.length * 8);
          p[bit >> 3] = (p[bit >> 3] as number) ^ (1 << (bit & 7));
          assert.equal(
            codeOf(() => verifyEnvelope({ ...env, payload: p }, { keys: ring })),
            "bad_signature",
          );
        }
        // Flip a bit of one signature.
        const which = flip % 2;
        const sigs = env.signatures.map((s, i) => {
          if (i !== which) return s;
          const sig = s.sig.slice();
          const bit = flip % 512;
          sig[bit >> 3] = (sig[bit >> 3] as number) ^ (1 << (bit & 7));
          return { keyid: s.keyid, sig };
        });
        assert.equal(
          codeOf(() => verifyEnvelope({ ...env, signatures: sigs }, { keys: ring, threshold: 2 })),
          "bad_signature",
        );
        // Change the payload type.
        assert.equal(
          codeOf(() => verifyEnvelope({ ...env, payloadType: `${type}x` }, { keys: ring })),
          "bad_signature",
        );
        // Flip a bit of the serialized envelope: either unparsable or fails verification or decodes identically.
        const json = new TextEncoder().encode(serializeEnvelope(env));
        const bit = flip % (json.length * 8);
        json[bit >> 3] = (json[bit >> 3] as number) ^ (1 << (bit & 7));
        let mutated: DsseEnvelope | undefined;
        try {
          mutated = parseEnvelope(json);
        } catch (e) {
          assert.ok(e instanceof CryptoError);
        }
        if (mutated !== undefined && !envelopesEqual(mutated, env)) {
          assert.notEqual(
            codeOf(() => verifyEnvelope(mutated, { keys: ring, threshold: 2 })),
            "none",
          );
        }
      },
    ),
    { numRuns: 150 },
  );
});

test("base64 helpers are strict", () => {
  assert.deepEqual(fromBase64("AAE=", "x"), new Uint8Array([0, 1]));
  assert.equal(toBase64(new Uint8Array([0xfb, 0xff])), "+/8=");
  assert.deepEqual(fromBase64("-_8", "x", true), new Uint8Array([0xfb, 0xff]));
  assert.equal(
    codeOf(() => fromBase64("-_8", "x")),
    "malformed",
  );
  assert.equal(
    codeOf(() => fromBase64("+_8=", "x", true)),
    "malformed",
  );
  assert.equal(
    codeOf(() => fromBase64("AAE", "x")),
    "malformed",
  );
  assert.equal(
    codeOf(() => fromBase64("A A=", "x")),
    "malformed",
  );
});

test("async verification (thread pool) gives the same results and codes as the sync path", async () => {
  const payload = enc.encode("async");
  const both = addSignature(signEnvelope(TYPE, payload, member), hub);
  const r = await verifyEnvelopeAsync(both, { keys: ring, threshold: 2, requiredKeyIds: [hub.keyId] });
  assert.deepEqual(r.verifiedKeyIds, [member.keyId, hub.keyId]);
  const asyncCode = async (env: DsseEnvelope, threshold = 1): Promise<string> => {
    try {
      await verifyEnvelopeAsync(env, { keys: ring, threshold });
      return "none";
    } catch (e) {
      assert.ok(e instanceof CryptoError);
      return e.code;
    }
  };
  assert.equal(await asyncCode({ ...both, payload: enc.encode("other") }), "bad_signature");
  assert.equal(await asyncCode(signEnvelope(TYPE, payload, stranger)), "unknown_key");
  assert.equal(await asyncCode(signEnvelope(TYPE, payload, member), 2), "bad_signature");
  // Many in flight at once.
  const envs = Array.from({ length: 64 }, (_, i) =>
    signEnvelope(TYPE, enc.encode(`m${i}`), i % 2 === 0 ? member : hub),
  );
  const all = await Promise.all(envs.map((e) => verifyEnvelopeAsync(e, { keys: ring })));
  assert.equal(all.length, 64);
  const bad = envs.map((e, i) => (i % 3 === 0 ? { ...e, payloadType: "x" } : e));
  const codes = await Promise.all(bad.map((e) => asyncCode(e)));
  assert.deepEqual(
    codes,
    bad.map((_, i) => (i % 3 === 0 ? "bad_signature" : "none")),
  );
  const sig = both.signatures[0]?.sig as Uint8Array;
  assert.equal(await member.publicKey.verifyAsync(pae(TYPE, payload), sig), true);
  assert.equal(await member.publicKey.verifyAsync(pae(TYPE, payload), sig.subarray(1)), false);
});
