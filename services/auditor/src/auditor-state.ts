/**
 * The auditor's local memory: the last checkpoint it verified for each log (by the hub's note key),
 * and evidence files written when a hub contradicts itself. Files are written atomically
 * (write + rename) so a crash never leaves a torn checkpoint behind.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatKeyId } from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import { MAX_CHECKPOINT_BYTES } from "./log-records.js";
import type { TrustRoot } from "./trust-root.js";

/** Where an auditor keeps what it saw. */
export class AuditorState {
  readonly dir: string;

  constructor(dir: string) {
    if (typeof dir !== "string" || dir.length === 0)
      throw new AuditError("invalid_argument", "state dir is empty");
    this.dir = dir;
  }

  #file(trust: TrustRoot): string {
    const name = trust.log.name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100);
    return join(this.dir, `checkpoint-${name}-${formatKeyId(trust.log.keyId)}.note`);
  }

  /** The last verified checkpoint note of this log, if any (re-verified by the caller). */
  async lastCheckpoint(trust: TrustRoot): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(trust), "utf8");
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new AuditError("unavailable", `cannot read the auditor state in ${this.dir}`, { cause });
    }
    if (text.length > MAX_CHECKPOINT_BYTES)
      throw new AuditError("too_large", "stored checkpoint is too large");
    return text;
  }

  /** Remembers a verified checkpoint as the latest seen. */
  async saveCheckpoint(trust: TrustRoot, note: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const file = this.#file(trust);
      await writeFile(`${file}.tmp`, note, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    } catch (cause) {
      throw new AuditError("unavailable", `cannot write the auditor state in ${this.dir}`, { cause });
    }
  }

  /** Keeps both checkpoints of a contradiction (proof of the hub's misbehaviour); returns the file. */
  async saveEvidence(kind: string, parts: Record<string, string>): Promise<string> {
    const file = join(this.dir, `evidence-${kind}-${new Date().toISOString().replace(/[:.]/g, "-")}.txt`);
    const body = Object.entries(parts)
      .map(([k, v]) => `--- ${k} ---\n${v}${v.endsWith("\n") ? "" : "\n"}`)
      .join("");
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(file, body, { mode: 0o600 });
    } catch (cause) {
      throw new AuditError("unavailable", `cannot write evidence in ${this.dir}`, { cause });
    }
    return file;
  }
}
