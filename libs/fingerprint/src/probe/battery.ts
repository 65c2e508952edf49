/**
 * Parsing of battery and canary-set documents (JSON). Both arrive from files or the hub and are untrusted:
 * every field is checked where it is read and sizes are bounded; errors name the field (never the text).
 */
import { FingerprintError } from "../fingerprint-error.js";
import type { Battery, Canary, CanarySet, Probe } from "./probe-types.js";

/** Bounds on documents. */
export const DOCUMENT_LIMITS = {
  maxProbes: 20_000,
  maxCanaries: 20_000,
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

function parseCanaries(v: unknown, where: string, ids: Set<string>): Canary[] {
  if (!Array.isArray(v)) throw invalid(`${where} must be an array`);
  if (v.length > DOCUMENT_LIMITS.maxCanaries)
    throw invalid(`${where} has more than ${DOCUMENT_LIMITS.maxCanaries} canaries`);
  return v.map((c: unknown, i: number) => {
    const w = `${where}[${i}]`;
    const co = obj(c, w);
    const id = str(co, "id", w, DOCUMENT_LIMITS.maxIdLength) ?? "";
    if (id === "") throw invalid(`${w}.id is empty`);
    if (ids.has(id)) throw invalid(`${w}.id duplicates an earlier canary id`);
    ids.add(id);
    return {
      id,
      prompt: str(co, "prompt", w, DOCUMENT_LIMITS.maxTextLength) ?? "",
      answer: str(co, "answer", w, DOCUMENT_LIMITS.maxTextLength) ?? "",
    };
  });
}

/** Validates a canary-set document (already JSON-parsed); ids unique across exposed and decoys. */
export function parseCanarySet(doc: unknown): CanarySet {
  const o = obj(doc, "canary set");
  const memberId = str(o, "memberId", "canarySet", DOCUMENT_LIMITS.maxIdLength) ?? "";
  const ids = new Set<string>();
  const exposed = parseCanaries(o.exposed, "canarySet.exposed", ids);
  const decoys = parseCanaries(o.decoys, "canarySet.decoys", ids);
  return { memberId, exposed, decoys };
}
