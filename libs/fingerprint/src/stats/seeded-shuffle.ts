/**
 * A deterministic shuffle (Fisher–Yates driven by mulberry32), so an order is fixed by a seed before any
 * answer is seen: probe order and canary asking order in compare(). The order must not depend on anything
 * an answer could reveal, which is why it is a function of the seed and the input order only.
 */

/** Deterministic shuffle of `xs` by `seed` (an unsigned 32-bit seed; other numbers are cast). */
export function seededShuffle<T>(xs: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
