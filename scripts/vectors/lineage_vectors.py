#!/usr/bin/env python3
"""Independent test vectors for @lineage/crypto's commitment, label, digest, sampling and note formats.

Written from the specs (docs/specs/canary-commitment.md, disclosure.md, seeded-sample.md, session-seed.md,
cosignature.md; c2sp.org/signed-note and c2sp.org/tlog-cosignature), NOT from the TypeScript code under test,
with nothing but the Python standard library (Ed25519 is the RFC 8032 section 6 reference algorithm, checked
against RFC 8032's TEST 1 at start).
The TypeScript tests hard-code what this prints:

    python3 scripts/vectors/lineage_vectors.py

Every domain string appears here literally, so changing one on the TypeScript side fails a test.
"""
import base64
import hashlib
import struct


def sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def u64(n: int) -> bytes:
    return struct.pack(">Q", n)


def lp(s: str) -> bytes:
    b = s.encode("utf-8")
    return u32(len(b)) + b


# ---- Ed25519 (RFC 8032 section 6, pure Python; slow but exact) ----------------------------------------

ED_P = 2**255 - 19
ED_Q = 2**252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, ED_P - 2, ED_P) % ED_P
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)


def _ed_add(P, Q):
    p = ED_P
    a = (P[1] - P[0]) * (Q[1] - Q[0]) % p
    b = (P[1] + P[0]) * (Q[1] + Q[0]) % p
    c = 2 * P[3] * Q[3] * ED_D % p
    dd = 2 * P[2] * Q[2] % p
    e, f, g, h = b - a, dd - c, dd + c, b + a
    return (e * f % p, g * h % p, f * g % p, e * h % p)


def _ed_mul(s: int, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _ed_add(Q, P)
        P = _ed_add(P, P)
        s >>= 1
    return Q


def _ed_recover_x(y: int, sign: int) -> int:
    p = ED_P
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, p - 2, p) % p
    x = pow(x2, (p + 3) // 8, p)
    if (x * x - x2) % p != 0:
        x = x * ED_SQRT_M1 % p
    assert (x * x - x2) % p == 0
    return p - x if (x & 1) != sign else x


_GY = 4 * pow(5, ED_P - 2, ED_P) % ED_P
_GX = _ed_recover_x(_GY, 0)
ED_G = (_GX, _GY, 1, _GX * _GY % ED_P)


def _ed_compress(P) -> bytes:
    zi = pow(P[2], ED_P - 2, ED_P)
    x, y = P[0] * zi % ED_P, P[1] * zi % ED_P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _ed_expand(seed: bytes):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(seed: bytes) -> bytes:
    return _ed_compress(_ed_mul(_ed_expand(seed)[0], ED_G))


def ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    a, prefix = _ed_expand(seed)
    pub = _ed_compress(_ed_mul(a, ED_G))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % ED_Q
    big_r = _ed_compress(_ed_mul(r, ED_G))
    h = int.from_bytes(hashlib.sha512(big_r + pub + msg).digest(), "little") % ED_Q
    return big_r + ((r + h * a) % ED_Q).to_bytes(32, "little")


# ---- C2SP signed notes and cosignature/v1 ---------------------------------------------------------------

def note_key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """c2sp.org/signed-note: the first 4 bytes of SHA-256(name || 0x0A || type || public key)."""
    return sha256(name.encode("utf-8"), b"\n", bytes([sig_type]), public_key)[:4]


def cosignature_message(timestamp: int, body: bytes) -> bytes:
    """c2sp.org/tlog-cosignature: the signed message; the timestamp in DECIMAL ASCII."""
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


def note_signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    return "\u2014 " + name + " " + base64.b64encode(key_id + signature).decode("ascii") + "\n"


# ---- RFC 6962 Merkle tree hash -------------------------------------------------------------------------

def mth(leaf_data: list) -> bytes:
    n = len(leaf_data)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00", leaf_data[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01", mth(leaf_data[:k]), mth(leaf_data[k:]))


# ---- v1 canary items and leaves --------------------------------------------------------------------------

def canary_item(prompt: str, expected: str) -> bytes:
    return b"lineage/canary/v1\x00" + lp(prompt) + lp(expected)


def canary_leaf_v1(salt: bytes, item: bytes) -> bytes:
    return sha256(b"lineage/canary-commitment/v1\x00", salt, item)


# ---- v2 canary pairs -------------------------------------------------------------------------------------

def pair_item(pair_id, pa, ea, pb, eb) -> bytes:
    return b"lineage/canary-pair/v2\x00" + lp(pair_id) + lp(pa) + lp(ea) + lp(pb) + lp(eb)


def pair_leaf(salt: bytes, item: bytes) -> bytes:
    return sha256(b"lineage/canary-commitment/v2\x00", salt, item)


def pair_labels(cp_root: bytes, cp_size: int, commitment_root: bytes, pairs: int) -> str:
    return "".join(
        str(sha256(b"lineage/canary-labels/v2\x00", cp_root, u64(cp_size), commitment_root, u32(i))[0] & 1)
        for i in range(pairs)
    )


# ---- digests ---------------------------------------------------------------------------------------------

def watermark_key_digest(salt: bytes, key: bytes) -> bytes:
    return sha256(b"lineage/watermark-key/v1\x00", salt, key)


def reference_fingerprint_digest(salt: bytes, canonical: bytes) -> bytes:
    return sha256(b"lineage/reference-fingerprint/v1\x00", salt, canonical)


# ---- seeds and the seeded sample --------------------------------------------------------------------------

def reference_fingerprint_bytes(responses) -> bytes:
    """services/member-node reference-fingerprint.ts: probes by UTF-8 id bytes, each id and text length-prefixed."""
    rows = sorted(((pid.encode("utf-8"), text.encode("utf-8")) for pid, text in responses), key=lambda r: r[0])
    return b"".join(u32(len(i)) + i + u32(len(t)) + t for i, t in rows)


def derive_seed(cp_root: bytes, commitment_root: bytes, context: str) -> bytes:
    return sha256(b"lineage/disclosure-seed/v1\x00", cp_root, commitment_root, lp(context))


def sample_indices(seed: bytes, n: int, k: int) -> list:
    words = []
    counter = [0]

    def word() -> int:
        if not words:
            block = sha256(b"lineage/sample/v1\x00", seed, u64(counter[0]))
            counter[0] += 1
            words.extend(struct.unpack(">8I", block))
        return words.pop(0)

    def below(m: int) -> int:
        limit = (2**32 // m) * m
        while True:
            w = word()
            if w < limit:
                return w % m

    swapped = {}
    out = []
    for i in range(k):
        j = i + below(n - i)
        at_j = swapped.get(j, j)
        at_i = swapped.get(i, i)
        swapped[j] = at_i
        swapped[i] = at_j
        out.append(at_j)
    return out


def sample_indices_plain(seed: bytes, n: int, k: int) -> list:
    """The same sample by a plain Fisher-Yates over a full list (cross-checks the sparse swap above)."""
    words = []
    counter = [0]

    def below(m: int) -> int:
        limit = (2**32 // m) * m
        while True:
            if not words:
                words.extend(struct.unpack(">8I", sha256(b"lineage/sample/v1\x00", seed, u64(counter[0]))))
                counter[0] += 1
            w = words.pop(0)
            if w < limit:
                return w % m

    a = list(range(n))
    for i in range(k):
        j = i + below(n - i)
        a[i], a[j] = a[j], a[i]
    return a[:k]


def main() -> None:
    salt = bytes(range(32))
    item = canary_item("Quel est le mot? é", "zq-7919")
    print("v1.item", item.hex())
    print("v1.leaf", canary_leaf_v1(salt, item).hex())
    items = [canary_item(f"canary {i}", f"answer {i}") for i in range(3)]
    print("v1.root3", mth([canary_leaf_v1(bytes([i]) * 32, it) for i, it in enumerate(items)]).hex())

    seed = derive_seed(b"\x01" * 32, b"\x02" * 32, "case-42")
    print("seed.case42", seed.hex())
    assert sample_indices(seed, 1000, 10) == sample_indices_plain(seed, 1000, 10)
    assert sample_indices(seed, 7, 7) == sample_indices_plain(seed, 7, 7)
    print("sample.1000.10", ",".join(map(str, sample_indices(seed, 1000, 10))))
    print("sample.7.7", ",".join(map(str, sample_indices(seed, 7, 7))))
    print("sample.3e9.12", ",".join(map(str, sample_indices(seed, 3_000_000_000, 12))))

    # Later indices of long draws: the whole sequence is pinned by its SHA-256 (indices joined by ",").
    long = sample_indices(seed, 100_000, 2_000)
    assert long == sample_indices_plain(seed, 100_000, 2_000)
    print("sample.100000.2000.sha256", sha256(",".join(map(str, long)).encode("ascii")).hex())
    print("sample.100000.2000.at1000", ",".join(map(str, long[1000:1005])))
    print("sample.100000.2000.tail", ",".join(map(str, long[-5:])))
    # n = 2^31 + 64, k = 40: every m = n - i stays above 2^31, so floor(2^32 / m) * m = m and about half of
    # all words are rejected at every draw (with m <= 2^31 the limit is 2m and rejection all but vanishes).
    print("sample.2p31+64.40", ",".join(map(str, sample_indices(seed, 2**31 + 64, 40))))
    print("sample.2p32.6", ",".join(map(str, sample_indices(seed, 2**32, 6))))
    full = sample_indices(seed, 300, 300)
    assert sorted(full) == list(range(300)) and full == sample_indices_plain(seed, 300, 300)
    print("sample.300.300.sha256", sha256(",".join(map(str, full)).encode("ascii")).hex())

    # RFC 8032 section 7.1 TEST 1: the Ed25519 above is the standard one.
    t1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert ed25519_public(t1).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert ed25519_sign(t1, b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    # cosignature/v1 by witness.example/w1 (seed 0x0a * 32) at 1679315147 (0x6418a0cb) over a fixed checkpoint.
    body = b"lineage.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    wseed = b"\x0a" * 32
    wpub = ed25519_public(wseed)
    wname = "witness.example/w1"
    wid = note_key_id(wname, 0x04, wpub)
    msg = cosignature_message(1679315147, body)
    wsig = ed25519_sign(wseed, msg)
    print("cosig.pubkey", wpub.hex())
    print("cosig.keyid", wid.hex())
    print("cosig.keyid.ed25519", note_key_id(wname, 0x01, wpub).hex())
    print("cosig.message", msg.hex())
    print("cosig.signature", wsig.hex())
    print("cosig.line", note_signature_line(wname, wid, u64(1679315147) + wsig).rstrip("\n"))
    # A timestamp past 2^32 (the u64 prefix needs its high word) and timestamp 0.
    big = 2**33 + 7
    print("cosig.big.message", cosignature_message(big, body).hex())
    print("cosig.big.line", note_signature_line(wname, wid, u64(big) + ed25519_sign(wseed, cosignature_message(big, body))).rstrip("\n"))
    print("cosig.zero.line", note_signature_line(wname, wid, u64(0) + ed25519_sign(wseed, cosignature_message(0, body))).rstrip("\n"))
    # The log's own plain Ed25519 (type 0x01) signature on the same body (seed 0x09 * 32).
    lseed = b"\x09" * 32
    lname = "lineage.example/log"
    print("note.log.line", note_signature_line(lname, note_key_id(lname, 0x01, ed25519_public(lseed)), ed25519_sign(lseed, body)).rstrip("\n"))

    pid, pa, ea, pb, eb = "pair-7", "Quel est le mot? é", "zq-7919", "What is the code word?", "vex-1123"
    pitem = pair_item(pid, pa, ea, pb, eb)
    print("v2.item", pitem.hex())
    print("v2.leaf", pair_leaf(salt, pitem).hex())
    pairs = [pair_item(f"p{i}", f"prompt a{i}", f"ans a{i}", f"prompt b{i}", f"ans b{i}") for i in range(5)]
    root5 = mth([pair_leaf(bytes([i]) * 32, p) for i, p in enumerate(pairs)])
    print("v2.root5", root5.hex())
    print("labels.40", pair_labels(b"\x11" * 32, 12345, b"\x22" * 32, 40))
    print("labels.40.size12346", pair_labels(b"\x11" * 32, 12346, b"\x22" * 32, 40))

    print("watermark.digest", watermark_key_digest(b"\x33" * 32, b"member-watermark-key").hex())
    print("reference.digest", reference_fingerprint_digest(b"\x44" * 32, b"canonical fingerprint bytes").hex())

    fp = reference_fingerprint_bytes(
        [("p-b", "beta"), ("p-a", "alpha \u00e9"), ("p-\U0001F600", "emoji"), ("p-\uFFFD", "replacement")]
    )
    print("fingerprint.bytes", fp.hex())
    print("fingerprint.hash", reference_fingerprint_digest(b"\x44" * 32, fp).hex())

    session = derive_seed(b"\x55" * 32, b"\x00" * 32, "lineage/session-seed/v1\nlineage.test/log\ns-1")
    print("session.seed", session.hex())

    dseed = derive_seed(b"\x66" * 32, b"\x22" * 32, "lineage/disclosure/v1\nlineage.test/log\n42")
    print("disclosure.seed", dseed.hex())
    print("disclosure.100", ",".join(map(str, sample_indices(dseed, 100, min(100, 32)))))
    print("disclosure.20", ",".join(map(str, sample_indices(dseed, 20, min(20, 32)))))


# ---- verdict: the canary rank test (docs/specs/verdict.md, lineage-policy/3) --------------------------------

def signed_rank_tail(signs: str):
    """Exact P(W+ >= w) for the signs as written ("E" at 1-based position i adds i), as a Fraction, by
    counting sign vectors with integer dynamic programming (no floating point)."""
    from fractions import Fraction
    n = len(signs)
    w = sum(i + 1 for i, x in enumerate(signs) if x == "E")
    counts = [1] + [0] * (n * (n + 1) // 2)
    for r in range(1, n + 1):
        for s in range(len(counts) - 1, r - 1, -1):
            counts[s] += counts[s - r]
    return Fraction(sum(counts[w:]), 2**n), w, n


def verdict_vectors():
    from fractions import Fraction
    # lineage-policy/3 weights: canary_pairs 1, canary_ranks 6, canary_watermark 2, watermark 1.
    for name, signs, key_bound, m in [
        ("ranks.a", "DD" + "E" * 44, False, 10),
        ("ranks.b", "EDEDDEEEEEEE", False, 1),
        ("ranks.c", "ED" * 24, True, 10),
        ("ranks.d", "D" * 5 + "E" * 30 + "D" + "E" * 12, True, 3),
    ]:
        p, w, n = signed_rank_tail(signs)
        total = n * (n + 1) // 2
        effect = Fraction(2 * w - total, total)
        family = Fraction(1 + 6 + (3 if key_bound else 0), 6) * m
        print(f"{name}.p", repr(float(p)))
        print(f"{name}.w", w)
        print(f"{name}.effect", repr(float(effect)))
        print(f"{name}.adjusted", repr(float(min(Fraction(1), p * family))))


# ---- the witnessed disclosure seed (docs/specs/disclosure.md, "lineage/disclosure/v2") ----------------------

def cosignature_digest(cosigs) -> bytes:
    """cosigs: (key name, key id 4 bytes, signature bytes); sorted by (UTF-8 name bytes, key id as u32)."""
    rows = sorted(cosigs, key=lambda c: (c[0].encode("utf-8"), int.from_bytes(c[1], "big")))
    body = b"".join(lp(name) + kid + u32(len(sig)) + sig for name, kid, sig in rows)
    return sha256(b"lineage/seed-cosignatures/v1\x00", u32(len(rows)), body)


def witnessed_seed_vectors():
    root = b"\x66" * 32
    text = b"lineage.test/log\n50\n" + base64.b64encode(root) + b"\n"
    cosigs = []
    for name, seed, t in [("witness.example/w2", b"\x0b" * 32, 1767000005), ("witness.example/w1", b"\x0a" * 32, 1767000000)]:
        kid = note_key_id(name, 0x04, ed25519_public(seed))
        sig = u64(t) + ed25519_sign(seed, cosignature_message(t, text))
        cosigs.append((name, kid, sig))
        print(f"witnessed.line.{name[-2:]}", note_signature_line(name, kid, sig).rstrip("\n"))
    digest = cosignature_digest(cosigs)
    print("witnessed.digest", digest.hex())
    seed = derive_seed(root, b"\x22" * 32, "lineage/disclosure/v2\nlineage.test/log\n42\n" + digest.hex())
    print("witnessed.seed", seed.hex())
    print("witnessed.100", ",".join(map(str, sample_indices(seed, 100, 32))))
    one = cosignature_digest(cosigs[1:])
    print("witnessed.digest.w1", one.hex())


if __name__ == "__main__":
    main()
    verdict_vectors()
    witnessed_seed_vectors()
