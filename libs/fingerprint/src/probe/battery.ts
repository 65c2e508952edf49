/**
 * Parsing of battery and canary-pair documents (JSON), and the retrieval/confirmation split of a battery.
 * Documents arrive from files or the hub and are untrusted: every field is checked where it is read and
 * sizes are bounded; errors name the field (never the text).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { FingerprintError } from "../fingerprint-error.js";
import type { Battery, Canary, CanaryPair, CanarySet, Probe } from "./probe-types.js";

/** Bounds on documents. */
export const DOCUMENT_LIMITS = {
  maxProbes: 20_000,
  maxCanaryPairs: 10_000,
  /** Canary prompts and answers are short facts; a tighter bound keeps a pair document small. */
  maxCanaryTextLength: 4_096,
  maxIdLength: 256,
  maxTextLength: 32_768,
};

function invalid(what: string): FingerprintError {
  return new FingerprintError("INVALID_DOCUMENT", what);
}

function str(
  o: Record<string, unknown>,
  field: string,
  where: string,
  max: number,
  optional = false,
): string | undefined {
  const v = o[field];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string") throw invalid(`${where}.${field} must be a string`);
  if (v.length > max) throw invalid(`${where}.${field} is longer than ${max} characters`);
  return v;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid(`${where} must be an object`);
  return v as Record<string, unknown>;
}

/** Validates a battery document (already JSON-parsed). Probe ids must be unique and non-empty. */
export function parseBattery(doc: unknown): Battery {
  const o = obj(doc, "battery");
  const epoch = str(o, "epoch", "battery", DOCUMENT_LIMITS.maxIdLength) ?? "";
  if (!Array.isArray(o.probes)) throw invalid("battery.probes must be an array");
  if (o.probes.length === 0) throw invalid("battery.probes is empty");
  if (o.probes.length > DOCUMENT_LIMITS.maxProbes)
    throw invalid(`battery has more than ${DOCUMENT_LIMITS.maxProbes} probes`);
  const ids = new Set<string>();
  const probes: Probe[] = o.probes.map((p: unknown, i: number) => {
    const w = `battery.probes[${i}]`;
    const po = obj(p, w);
    const id = str(po, "id", w, DOCUMENT_LIMITS.maxIdLength) ?? "";
    if (id === "") throw invalid(`${w}.id is empty`);
    if (ids.has(id)) throw invalid(`${w}.id duplicates an earlier probe id`);
    ids.add(id);
    const kind = po.kind;
    if (kind !== "edge" && kind !== "open" && kind !== "completion") {
      throw invalid(`${w}.kind must be "edge", "open" or "completion"`);
    }
    const prompt = str(po, "prompt", w, DOCUMENT_LIMITS.maxTextLength) ?? "";
    const reference = str(po, "reference", w, DOCUMENT_LIMITS.maxTextLength, true);
    if (kind === "edge" && reference === undefined)
      throw invalid(`${w}.reference is required on edge probes`);
    return reference === undefined ? { id, kind, prompt } : { id, kind, prompt, reference };
  });
  return { epoch, probes };
}

/** Keys a canary-set document may hold at each level (anything else is refused, so typos are not ignored). */
const CANARY_SET_KEYS = new Set(["member_id", "pairs"]);
const PAIR_KEYS = new Set(["id", "exposed", "decoy"]);
const ITEM_KEYS = new Set(["id", "prompt", "answer"]);

function onlyKeys(o: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) throw invalid(`${where} has an unknown field "${k.slice(0, 64)}"`);
  }
}

function parseCanaryItem(v: unknown, where: string, ids: Set<string>): Canary {
  const co = obj(v, where);
  onlyKeys(co, ITEM_KEYS, where);
  const id = str(co, "id", where, DOCUMENT_LIMITS.maxIdLength) ?? "";
  if (id === "") throw invalid(`${where}.id is empty`);
  if (ids.has(id)) throw invalid(`${where}.id duplicates an earlier canary item id`);
  ids.add(id);
  const prompt = str(co, "prompt", where, DOCUMENT_LIMITS.maxCanaryTextLength) ?? "";
  const answer = str(co, "answer", where, DOCUMENT_LIMITS.maxCanaryTextLength) ?? "";
  if (prompt.trim() === "") throw invalid(`${where}.prompt is empty`);
  if (answer.trim() === "") throw invalid(`${where}.answer is empty`);
  return { id, prompt, answer };
}

/**
 * Validates a canary-pair document (already JSON-parsed), format v2:
 * `{"member_id": "...", "pairs": [{"id": "...", "exposed": {"id", "prompt", "answer"}, "decoy": {...}}]}`.
 * The document comes from a member's file or store and is untrusted here: unknown fields are refused, counts
 * and lengths are bounded, pair ids and item ids are unique (an item id repeated across pairs would let one
 * answer count twice), and the two items of a pair must be distinct prompts. Errors name the pair by index
 * and id, never the canary text (it is private). Which item is `exposed` is not checked here: the label is
 * derived from the log outside the engine (see CanaryPair).
 */
export function parseCanarySet(doc: unknown): CanarySet {
  const o = obj(doc, "canary set");
  if (o.pairs === undefined && (o.exposed !== undefined || o.decoys !== undefined)) {
    throw invalid(
      'canary set uses the retired exposed/decoys format; v2 lists "pairs" of {id, exposed, decoy}',
    );
  }
  onlyKeys(o, CANARY_SET_KEYS, "canary set");
  const memberId = str(o, "member_id", "canary set", DOCUMENT_LIMITS.maxIdLength) ?? "";
  if (memberId === "") throw invalid("canary set.member_id is empty");
  if (!Array.isArray(o.pairs)) throw invalid("canary set.pairs must be an array");
  if (o.pairs.length === 0) throw invalid("canary set.pairs is empty");
  if (o.pairs.length > DOCUMENT_LIMITS.maxCanaryPairs)
    throw invalid(`canary set has more than ${DOCUMENT_LIMITS.maxCanaryPairs} pairs`);
  const pairIds = new Set<string>();
  const itemIds = new Set<string>();
  const pairs: CanaryPair[] = o.pairs.map((p: unknown, i: number) => {
    const po = obj(p, `canary set.pairs[${i}]`);
    const rawId = po.id;
    const w =
      typeof rawId === "string" && rawId.length <= DOCUMENT_LIMITS.maxIdLength
        ? `canary set.pairs[${i}] (pair "${rawId}")`
        : `canary set.pairs[${i}]`;
    onlyKeys(po, PAIR_KEYS, w);
    const id = str(po, "id", w, DOCUMENT_LIMITS.maxIdLength) ?? "";
    if (id === "") throw invalid(`${w}.id is empty`);
    if (pairIds.has(id)) throw invalid(`${w}.id duplicates an earlier pair id`);
    pairIds.add(id);
    const exposed = parseCanaryItem(po.exposed, `${w}.exposed`, itemIds);
    const decoy = parseCanaryItem(po.decoy, `${w}.decoy`, itemIds);
    if (exposed.prompt === decoy.prompt) throw invalid(`${w}: exposed and decoy have the same prompt`);
    return { id, exposed, decoy };
  });
  return { memberId, pairs };
}

/** The two parts of a battery split by `splitBattery`. */
export interface BatterySplit {
  /** Probes the hub's retrieval (sketches, LSH) reads. */
  readonly retrieval: Battery;
  /** Probes held out from retrieval, for the member's confirmation (compare). */
  readonly confirmation: Battery;
}

const SPLIT_DOMAIN = "lineage-battery-split-v1";

/**
 * Splits a battery deterministically into retrieval and confirmation probes (DESIGN.md, "The match
 * protocol": retrieval and confirmation use different probes). A probe goes to confirmation when the first
 * 32 bits of SHA-256("lineage-battery-split-v1\0" || seed || "\0" || probe id) fall below
 * `confirmationShare` x 2^32. Why a keyed hash of the id rather than a shuffle: the split of a probe does not
 * depend on which other probes are in the battery, so a hub and a member reading the same seed agree even
 * on batteries that grew, and nobody picks which probes confirm after seeing retrieval scores. `seed` is the
 * session seed (from a checkpoint); each part keeps the battery's epoch and probe order.
 */
export function splitBattery(battery: Battery, seed: number | string, confirmationShare = 0.5): BatterySplit {
  if (!(confirmationShare > 0 && confirmationShare < 1))
    throw new FingerprintError("INVALID_ARGUMENT", "confirmationShare must be in (0, 1)");
  if (typeof seed === "number" ? !Number.isSafeInteger(seed) : seed.length > DOCUMENT_LIMITS.maxIdLength)
    throw new FingerprintError(
      "INVALID_ARGUMENT",
      "seed must be a safe integer or a string of at most 256 chars",
    );
  const cut = Math.floor(confirmationShare * 2 ** 32);
  const prefix = `${SPLIT_DOMAIN}\0${typeof seed === "number" ? `n:${seed}` : `s:${seed}`}\0`;
  const retrieval: Probe[] = [];
  const confirmation: Probe[] = [];
  for (const p of battery.probes) {
    const h = sha256(utf8.encode(prefix + p.id));
    const x = (((h[0] ?? 0) << 24) | ((h[1] ?? 0) << 16) | ((h[2] ?? 0) << 8) | (h[3] ?? 0)) >>> 0;
    (x < cut ? confirmation : retrieval).push(p);
  }
  return {
    retrieval: { epoch: battery.epoch, probes: retrieval },
    confirmation: { epoch: battery.epoch, probes: confirmation },
  };
}

/**
 * The retrieval/confirmation split the protocol uses between a hub and its members (`lineage-split/v1`):
 * `splitBattery` over the probes' wire ids — their decimal positions in the epoch battery, the ids members and
 * the hub sketch under — seeded with the epoch id. Members sketch only `retrieval` (so the hub's index never
 * sees a confirmation probe), the hub probes and sketches suspects on `retrieval` only, and sessions confirm on
 * `confirmation`. Each part keeps the battery's own probe objects (and ids) in battery order, so a member whose
 * battery came from a file with other ids still agrees with the hub on which probes are which.
 */
export function splitEpochBattery(battery: Battery, epochId: string): BatterySplit {
  const wire: Battery = {
    epoch: battery.epoch,
    probes: battery.probes.map((p, i) => ({ ...p, id: String(i) })),
  };
  const parts = splitBattery(wire, epochId);
  const pick = (part: Battery): Battery => ({
    epoch: battery.epoch,
    probes: part.probes.map((p) => battery.probes[Number(p.id)] as Probe),
  });
  return { retrieval: pick(parts.retrieval), confirmation: pick(parts.confirmation) };
}

const utf8 = new TextEncoder();
