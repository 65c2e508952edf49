/**
 * Reading and writing the auditor's input files: an attestation bundle (AttestationBundle) and a
 * disclosure package (VerifyDisclosureRequest: bundle + disclosure + optional recorded responses),
 * as protobuf JSON (human-inspectable; the default) or protobuf binary. Files are untrusted input:
 * size bounded before parsing, unknown fields rejected.
 */
import { type FileHandle, open } from "node:fs/promises";
import {
  type DescMessage,
  fromBinary,
  fromJsonString,
  type MessageShape,
  toJsonString,
} from "@bufbuild/protobuf";
import {
  type AttestationBundle,
  AttestationBundleSchema,
  type VerifyDisclosureRequest,
  VerifyDisclosureRequestSchema,
} from "@lineage/api";
import { AuditError } from "./audit-error.js";

/** Largest bundle file (auditor_service.proto: 4 MiB encoded; JSON base64 inflates by 4/3). */
export const MAX_BUNDLE_FILE_BYTES = 6 * 1024 * 1024;
/** Largest disclosure package file. */
export const MAX_PACKAGE_FILE_BYTES = 24 * 1024 * 1024;

function parse<S extends DescMessage>(schema: S, bytes: Uint8Array, what: string): MessageShape<S> {
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  let msg: MessageShape<S>;
  try {
    if (first === 0x7b)
      return fromJsonString(schema, new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    msg = fromBinary(schema, bytes);
  } catch (cause) {
    throw new AuditError("malformed", `${what} is neither protobuf JSON nor binary of ${schema.typeName}`, {
      cause,
    });
  }
  // The JSON reader refuses unknown fields; the binary one keeps them aside. Refuse them here too, so both
  // encodings of a file accept the same documents (and padding cannot ride along unnoticed).
  const at = unknownFieldAt(msg, schema.typeName, 0);
  if (at !== undefined) throw new AuditError("malformed", `${what} has an unknown field in ${at}`);
  return msg;
}

/** Path of the first message in `v` holding unknown fields (binary decoding keeps them in `$unknown`). */
function unknownFieldAt(v: unknown, path: string, depth: number): string | undefined {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array || depth > 64) return undefined;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) {
      const at = unknownFieldAt(x, `${path}[${i}]`, depth + 1);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.$unknown) && o.$unknown.length > 0) return path;
  for (const [k, x] of Object.entries(o)) {
    if (k === "$unknown" || k === "$typeName") continue;
    const at = unknownFieldAt(x, k === "value" || k === "case" ? path : `${path}.${k}`, depth + 1);
    if (at !== undefined) return at;
  }
  return undefined;
}

/**
 * Reads at most `max + 1` bytes of `path`: a file over the bound is too_large whatever its size, and a
 * "file" that never ends (a device, a pipe) is read no further than its bound.
 */
export async function readBounded(path: string, max: number, what: string): Promise<Uint8Array> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (cause) {
    throw new AuditError("unavailable", `cannot read ${what} ${path}`, { cause });
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(max + 1, 1 << 20));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, Math.min(buf.length, max + 1 - total), null));
      } catch (cause) {
        throw new AuditError("unavailable", `cannot read ${what} ${path}`, { cause });
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (total > max) throw new AuditError("too_large", `${what} ${path} exceeds ${max} bytes`);
    }
    const bytes = Buffer.concat(chunks, total);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Parses a bundle from bytes (JSON or binary). */
export function parseBundle(bytes: Uint8Array): AttestationBundle {
  if (bytes.length > MAX_BUNDLE_FILE_BYTES) throw new AuditError("too_large", "bundle is too large");
  return parse(AttestationBundleSchema, bytes, "bundle");
}

/** Reads a bundle file. */
export async function readBundleFile(path: string): Promise<AttestationBundle> {
  return parseBundle(await readBounded(path, MAX_BUNDLE_FILE_BYTES, "bundle file"));
}

/** Protobuf JSON of a bundle (what `lineage audit bundle` writes). */
export function bundleToJson(bundle: AttestationBundle): string {
  return `${toJsonString(AttestationBundleSchema, bundle, { prettySpaces: 2 })}\n`;
}

/** Parses a disclosure package (JSON or binary). */
export function parseDisclosurePackage(bytes: Uint8Array): VerifyDisclosureRequest {
  if (bytes.length > MAX_PACKAGE_FILE_BYTES) throw new AuditError("too_large", "package is too large");
  return parse(VerifyDisclosureRequestSchema, bytes, "disclosure package");
}

/** Reads a disclosure package file. */
export async function readDisclosurePackage(path: string): Promise<VerifyDisclosureRequest> {
  return parseDisclosurePackage(await readBounded(path, MAX_PACKAGE_FILE_BYTES, "disclosure package"));
}

/** Protobuf JSON of a disclosure package. */
export function disclosurePackageToJson(pkg: VerifyDisclosureRequest): string {
  return `${toJsonString(VerifyDisclosureRequestSchema, pkg, { prettySpaces: 2 })}\n`;
}
