/**
 * The canonical bytes of one canary — THE `item` a member commits to with {@link CanaryCommitment}
 * (canary-commitment.ts) and an auditor re-encodes from a disclosure (attestation_bundle.proto
 * DisclosedCanary). Both sides must use this one function, or no disclosure verifies:
 *
 *   item = "lineage/canary/v1" || 0x00 || u32be(len(prompt)) || prompt || u32be(len(expected)) || expected
 *
 * prompt and expected are UTF-8, exactly as given (not re-normalised); the length prefixes make the
 * encoding injective. The committed leaf is then SHA-256("lineage/canary-commitment/v1" || 0x00 ||
 * salt || item) (canaryLeafData).
 */
import { checkString, concatBytes, u32be, utf8 } from "./bytes.js";
import { CryptoError } from "./crypto-error.js";

/** Domain separation prefix of canary items. */
export const CANARY_ITEM_DOMAIN = "lineage/canary/v1";
/** Longest canary prompt in UTF-16 code units (attestation_bundle.proto DisclosedCanary). */
export const MAX_CANARY_PROMPT_CHARS = 8192;
/** Longest expected answer in UTF-16 code units (attestation_bundle.proto DisclosedCanary). */
export const MAX_CANARY_EXPECTED_CHARS = 4096;

const PREFIX = utf8(`${CANARY_ITEM_DOMAIN}\0`);
// A lone surrogate would be encoded as U+FFFD, so two different strings would share one item.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Checks one text field of a canary (prompt, expected answer, pair id): non-empty, at most `max` UTF-16
 * code units, well-formed Unicode. Shared with the pair encoding (canary-pair.ts). The text itself never
 * appears in an error message.
 */
export function checkCanaryText(name: string, value: unknown, max: number): string {
  const s = checkString(name, value);
  if (s.length === 0) throw new CryptoError("malformed", `${name} is empty`);
  if (s.length > max) throw new CryptoError("too_large", `${name} exceeds ${max} characters`);
  if (LONE_SURROGATE.test(s)) throw new CryptoError("malformed", `${name} is not well-formed Unicode`);
  return s;
}

/**
 * The canonical item bytes of a canary (prompt + what counts as a hit). Throws `malformed` for an
 * empty or ill-formed string and `too_large` beyond the bounds; the text itself never appears in
 * an error message (canaries are private).
 */
export function canaryItemBytes(prompt: string, expected: string): Uint8Array {
  const p = utf8(checkCanaryText("prompt", prompt, MAX_CANARY_PROMPT_CHARS));
  const e = utf8(checkCanaryText("expected", expected, MAX_CANARY_EXPECTED_CHARS));
  return concatBytes(PREFIX, u32be(p.length), p, u32be(e.length), e);
}
