#!/usr/bin/env python3
"""Independent test vectors for @lineage/crypto's commitment, label, digest and sampling formats.

Written from the specs (docs/specs/canary-commitment.md, docs/specs/disclosure.md, the module headers of
libs/crypto/src/*.ts), NOT from the TypeScript code under test, with nothing but the Python standard library.
The TypeScript tests hard-code what this prints:

    python3 scripts/vectors/lineage_vectors.py

Every domain string appears here literally, so changing one on the TypeScript side fails a test.
"""
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


if __name__ == "__main__":
    main()
