#!/usr/bin/env python3
"""Independent test vectors for sketch version 2 (libs/fingerprint/src/sketch; docs/specs/sketch.md).

Written from docs/specs/sketch.md, NOT from the TypeScript under test, with nothing but the Python standard
library: the key derivation (HMAC-SHA256), the keyed integer kernels (MurmurHash3 x86_32 token hashes, the
shingle fold, per-probe MinHash rows, the densified one-permutation coarse signature), the probe tag and the
published digests (AES-128 of one 16-byte block each; AES is FIPS 197, checked against its Appendix C.1
example at start). The texts are ASCII, so the Lineage tokenizer reduces to the regular expression below.
libs/fingerprint/src/sketch/sketch-golden.test.ts hard-codes what this prints:

    python3 scripts/vectors/sketch_v2_vectors.py
"""
import hashlib
import hmac
import re
import struct

M32 = 0xFFFFFFFF

# ---- AES-128 (FIPS 197), encryption only -------------------------------------------------------------


def _xtime(a: int) -> int:
    a <<= 1
    return (a ^ 0x11B) & 0xFF if a & 0x100 else a


def _gmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = _xtime(a)
        b >>= 1
    return r


def _sbox():
    box = []
    for x in range(256):
        inv = 0 if x == 0 else next(y for y in range(1, 256) if _gmul(x, y) == 1)
        s = inv
        for k in range(1, 5):
            s ^= ((inv << k) | (inv >> (8 - k))) & 0xFF
        box.append(s ^ 0x63)
    return box


SBOX = _sbox()


def aes128_key_schedule(key: bytes):
    w = [list(key[4 * i : 4 * i + 4]) for i in range(4)]
    rcon = 1
    for i in range(4, 44):
        t = list(w[i - 1])
        if i % 4 == 0:
            t = [SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        w.append([a ^ b for a, b in zip(w[i - 4], t)])
    return [sum(w[4 * r : 4 * r + 4], []) for r in range(11)]


def aes128_encrypt(round_keys, block: bytes) -> bytes:
    s = [b ^ k for b, k in zip(block, round_keys[0])]  # column-major: s[4c + r]
    for rnd in range(1, 11):
        s = [SBOX[b] for b in s]
        s = [s[(4 * (c + r) + r) % 16] for c in range(4) for r in range(4)]  # ShiftRows
        if rnd != 10:
            out = []
            for c in range(4):
                a = s[4 * c : 4 * c + 4]
                out += [
                    _gmul(a[0], 2) ^ _gmul(a[1], 3) ^ a[2] ^ a[3],
                    a[0] ^ _gmul(a[1], 2) ^ _gmul(a[2], 3) ^ a[3],
                    a[0] ^ a[1] ^ _gmul(a[2], 2) ^ _gmul(a[3], 3),
                    _gmul(a[0], 3) ^ a[1] ^ a[2] ^ _gmul(a[3], 2),
                ]
            s = out
        s = [b ^ k for b, k in zip(s, round_keys[rnd])]
    return bytes(s)


assert (
    aes128_encrypt(aes128_key_schedule(bytes(range(16))), bytes.fromhex("00112233445566778899aabbccddeeff")).hex()
    == "69c4e0d86a7b0430d8cdb78070b4c55a"
), "AES-128 does not reproduce FIPS 197 Appendix C.1"

# ---- MurmurHash3 x86_32 and its finalizer ----------------------------------------------------------------


def fmix32(h: int) -> int:
    h &= M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & M32


def murmur3_32(data: bytes, seed: int) -> int:
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & M32
    n = len(data)
    for i in range(0, n - n % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (rotl((k * c1) & M32, 15) * c2) & M32
        h = (rotl(h ^ k, 13) * 5 + 0xE6546B64) & M32
    tail = data[n - n % 4 :]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (rotl((k * c1) & M32, 15) * c2) & M32
        h ^= k
    return fmix32(h ^ n)


assert murmur3_32(b"", 1) == 0x514E28B7 and murmur3_32(b"\x21\x43\x65\x87", 0) == 0xF55B516B

# ---- sketch version 2 ------------------------------------------------------------------------------------

PROBE_ROWS = 32
COARSE_BANDS = 512
TOKEN_RE = re.compile(r"[a-z0-9]+(?:[-_.'][a-z0-9]+)*|[^\sa-z0-9]")  # the tokenizer on ASCII text


def hm(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def derive(epoch_key: bytes, epoch_id: str):
    eid = epoch_id.encode()
    words = []
    i = 0
    while len(words) < 6 + PROBE_ROWS:
        # Version 2 keeps version 1's seed label (docs/specs/sketch.md).
        words += struct.unpack(">8I", hm(epoch_key, b"lineage-sketch-v1\0seeds\0" + eid + struct.pack(">I", i)))
        i += 1
    seeds = {
        "token0": words[0],
        "token1": words[1],
        "coarse0": words[2],
        "coarse1": words[3],
        "simhash0": words[4],
        "simhash1": words[5],
        "probeRows": words[6 : 6 + PROBE_ROWS],
    }
    block_key = hm(epoch_key, b"lineage-sketch-v2\0block\0" + eid)[:16]
    return seeds, block_key


def shingles(text: str, seeds):
    tokens = TOKEN_RE.findall(text.lower())
    if not tokens:
        return []
    ta = [murmur3_32(t.encode(), seeds["token0"]) for t in tokens]
    tb = [murmur3_32(t.encode(), seeds["token1"]) for t in tokens]
    width = min(2, len(tokens))
    out = []
    for s in range(len(tokens) - width + 1):
        a, b = width, ~width & M32
        for j in range(width):
            x, y = ta[s + j], tb[s + j]
            a = fmix32(((a ^ x) * 0x9E3779B1 + y) & M32)
            b = fmix32(((b ^ y) * 0x85EBCA77 + x) & M32)
        out.append((a, b))
    return out


def rows(sh, seeds):
    return [min(fmix32(fmix32(a ^ s) + b) for a, b in sh) for s in seeds["probeRows"]]


def scoped(sh, probe_id: str, seeds):
    pid = probe_id.encode()
    pa, pb = murmur3_32(pid, seeds["coarse0"]), murmur3_32(pid, seeds["coarse1"])
    return [(fmix32(((a ^ pa) * 0x9E3779B1 + pb) & M32), fmix32(((b ^ pb) * 0x85EBCA77 + pa) & M32)) for a, b in sh]


def one_permutation(pairs, seeds, bins=COARSE_BANDS):
    shift = 32 - (bins.bit_length() - 1)
    vals = [None] * bins
    for a, b in pairs:
        i = fmix32(a ^ seeds["coarse0"]) >> shift
        v = fmix32(b ^ seeds["coarse1"])
        vals[i] = v if vals[i] is None else min(vals[i], v)
    out = []
    for i in range(bins):
        if vals[i] is not None:
            out.append(vals[i])
            continue
        t = 1
        while True:  # the spec's probe sequence (its bounded fallback is never reached here)
            j = fmix32((((i + 1) * 0x9E3779B1) & M32) ^ ((t * 0x85EBCA77) & M32) ^ seeds["coarse0"]) & (bins - 1)
            if vals[j] is not None:
                out.append(vals[j])
                break
            t += 1
    return out


def probe_tag(probe_id: str) -> bytes:
    return hashlib.sha256(b"lineage-sketch-v2\0probe\0" + probe_id.encode()).digest()[:8]


def block(tag: bytes, band: int, row: int, rest: bytes) -> bytes:
    return bytes([2, tag[0]]) + struct.pack(">HI", band, row) + rest


KEY = bytes(range(32))
EPOCH = "golden-epoch-2"
PROBES = [  # (probe id, kind, text); an edge probe is not listed, its shingles enter the coarse signature only
    ("edge-001", "edge", "The capital of Australia is Sydney."),
    ("one", "open", "hello"),
    ("open-001", "open", "Once upon a time, a small model learned to write: carefully, and with style! don't copy"),
    ("open-002", "open", "   "),
    ("rep", "completion", "a b a b a b a b"),
    ("x-edge", "edge", "Canberra"),
]

seeds, block_key = derive(KEY, EPOCH)
rk = aes128_key_schedule(block_key)
print(f"seeds token0={seeds['token0']:#010x} token1={seeds['token1']:#010x} coarse0={seeds['coarse0']:#010x} "
      f"coarse1={seeds['coarse1']:#010x} simhash0={seeds['simhash0']:#010x} simhash1={seeds['simhash1']:#010x}")
print("probeRows[0..3]", " ".join(f"{x:#010x}" for x in seeds["probeRows"][:4]))
print("probeRows[31]", f"{seeds['probeRows'][31]:#010x}")
print("blockKey", block_key.hex())
all_scoped = []
for pid, kind, text in PROBES:
    sh = shingles(text, seeds)
    if kind == "edge":
        all_scoped += scoped(sh, pid, seeds)
        print(f"probe {pid} not listed (edge)")
        continue
    if not sh:
        print(f"probe {pid} empty")
        continue
    all_scoped += scoped(sh, pid, seeds)
    r = rows(sh, seeds)
    tag = probe_tag(pid)
    bands = b"".join(aes128_encrypt(rk, block(b"P", band, r[band], tag))[:4] for band in range(PROBE_ROWS))
    print(f"probe {pid} tag {tag.hex()} rows[0..1] {r[0]:#010x} {r[1]:#010x}")
    print(f"probe {pid} bands {bands.hex()}")
coarse_rows = one_permutation(all_scoped, seeds)
coarse = b"".join(aes128_encrypt(rk, block(b"C", band, coarse_rows[band], bytes(8)))[:8] for band in range(COARSE_BANDS))
print("coarse rows[0..3]", " ".join(f"{x:#010x}" for x in coarse_rows[:4]))
print("coarse[0..4)", coarse[:32].hex())
print("coarse sha256", hashlib.sha256(coarse).hexdigest())
