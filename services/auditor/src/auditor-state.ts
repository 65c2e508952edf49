/**
 * The auditor's local memory: the last checkpoint it verified for each log (by the hub's note key),
 * and evidence files written when a hub contradicts itself. Files are written atomically
 * (write + rename) so a crash never leaves a torn checkpoint behind.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Ed25519PublicKey, formatKeyId, fromHex, toHex } from "@lineage/crypto";
import { AuditError } from "./audit-error.js";
import { readBounded } from "./bundle-file.js";
import { MAX_CHECKPOINT_BYTES, openHubCheckpoint } from "./log-records.js";
import type { RootRotation, TrustRoot } from "./trust-root.js";

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

  /** The last verified checkpoint note of this log, if any (it must still open under the trust root). */
  async lastCheckpoint(trust: TrustRoot): Promise<string | undefined> {
    const file = this.#file(trust);
    let bytes: Uint8Array;
    try {
      bytes = await readBounded(file, MAX_CHECKPOINT_BYTES, "the saved checkpoint");
    } catch (err) {
      if (
        ((err as { cause?: NodeJS.ErrnoException }).cause as NodeJS.ErrnoException | undefined)?.code ===
        "ENOENT"
      )
        return undefined;
      throw err;
    }
    const text = new TextDecoder().decode(bytes);
    // Saved only after it was verified under this very key (the file is named by it): a note that no longer
    // opens was damaged here, which says nothing about the hub — the check could not be made.
    try {
      openHubCheckpoint(text, trust);
    } catch (cause) {
      throw new AuditError(
        "unavailable",
        `the saved checkpoint ${file} is damaged (it no longer opens under the hub key it was saved under); restore it from a backup — removing it makes the next check a first contact`,
        { cause },
      );
    }
    return text;
  }

  /** Remembers a verified checkpoint as the latest seen. */
  async saveCheckpoint(trust: TrustRoot, note: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const file = this.#file(trust);
      // A temp file of its own (two auditors saving at once must not write one temp file), fsynced before
      // the rename and the folder after it: a crash leaves the old note or the new one, never a torn one.
      const tmp = `${file}.${randomBytes(8).toString("hex")}.tmp`;
      const fh = await open(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        await fh.writeFile(note);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(tmp, file);
      } catch (cause) {
        await unlink(tmp).catch(() => {});
        throw cause;
      }
      const d = await open(this.dir, constants.O_RDONLY);
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (cause) {
      throw new AuditError("unavailable", `cannot write the auditor state in ${this.dir}`, { cause });
    }
  }

  #rootsFile(trust: TrustRoot): string {
    return this.#file(trust).replace(/\.note$/, ".roots");
  }

  /**
   * Remembers the root rotations the log established (verified: each signed by the root before it, from
   * the key this state is named by), so a later check that holds only the original key — `audit
   * consistency`, or a bundle carrying no statements — follows the chain to the current root. One line per
   * rotation: `<log index> <hex raw key>`. Never shortens what was saved.
   */
  async saveRoots(trust: TrustRoot): Promise<void> {
    const rotations = trust.rotations ?? [];
    const saved = (await this.#readRoots(trust)) ?? [];
    if (rotations.length <= saved.length) return;
    const text = rotations.map((r) => `${r.index} ${toHex(r.key.raw)}\n`).join("");
    await this.#atomicWrite(this.#rootsFile(trust), text);
  }

  /** `trust` with the rotations saved by {@link saveRoots} (when it holds fewer). */
  async withSavedRoots(trust: TrustRoot): Promise<TrustRoot> {
    const saved = await this.#readRoots(trust);
    if (saved === undefined || saved.length <= (trust.rotations?.length ?? 0)) return trust;
    return { ...trust, rotations: saved };
  }

  async #readRoots(trust: TrustRoot): Promise<RootRotation[] | undefined> {
    const file = this.#rootsFile(trust);
    let bytes: Uint8Array;
    try {
      bytes = await readBounded(file, 64 * 1024, "the saved root rotations");
    } catch (err) {
      if (
        ((err as { cause?: NodeJS.ErrnoException }).cause as NodeJS.ErrnoException | undefined)?.code ===
        "ENOENT"
      )
        return undefined;
      throw err;
    }
    const out: RootRotation[] = [];
    for (const line of new TextDecoder().decode(bytes).split("\n")) {
      if (line === "") continue;
      const m = /^(\d{1,15}) ([0-9a-f]{64})$/.exec(line);
      if (m === null)
        throw new AuditError(
          "unavailable",
          `the saved root rotations ${file} are damaged; restore them from a backup`,
        );
      out.push({ index: Number(m[1]), key: Ed25519PublicKey.fromRaw(fromHex(m[2] as string)) });
    }
    return out;
  }

  async #atomicWrite(file: string, text: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.${randomBytes(8).toString("hex")}.tmp`;
      const fh = await open(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(tmp, file);
      } catch (cause) {
        await unlink(tmp).catch(() => {});
        throw cause;
      }
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
