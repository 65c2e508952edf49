/**
 * `lineage member watch`: tells a member about any log entry in its name that it did not make (issue 8).
 * Reads the entries logged since the position saved in --state (proven against the hub-signed checkpoint,
 * @lineage/auditor watchMember), prints one line per entry in the member's name, and exits 1 when any
 * of them was not signed by one of the member's own keys (--key, repeatable). The new position is saved
 * either way (temp file + rename), so each foreign entry is reported once, by the run that first sees it.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  AuditError,
  exitCodeFor,
  hubCheckpointSource,
  hubEntrySource,
  type WatchState,
  watchMember,
} from "@lineage/auditor";
import type { Ed25519PublicKey } from "@lineage/crypto";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, intOpt, requiredStringOpt, stringListOpt } from "../option-values.js";
import { credentialsOf, hubAddress, trustOf } from "./audit.js";
import { clientCertFlags } from "./client-tls.js";
import { readPublicKeyFile } from "./keygen.js";
import { MEMBER_ID_RE } from "./member-enrol-request.js";

/** Largest saved state read (a compact range is at most 64 hashes). */
const MAX_STATE_BYTES = 64 * 1024;

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

function parseState(text: string): WatchState {
  const v = JSON.parse(text) as { size?: unknown; range?: unknown };
  if (
    typeof v.size !== "number" ||
    !Number.isSafeInteger(v.size) ||
    v.size < 0 ||
    !Array.isArray(v.range) ||
    v.range.length > 64 ||
    !v.range.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))
  ) {
    throw new Error("not a watch state");
  }
  return { size: v.size, range: v.range as string[] };
}

async function loadState(inv: Invocation, file: string): Promise<WatchState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError("unavailable", `${where(inv)}: cannot read ${file}`, { cause: err });
  }
  if (text.length > MAX_STATE_BYTES)
    throw new CliError("invalid_argument", `${where(inv)}: ${file} is too large`);
  try {
    return parseState(text);
  } catch (err) {
    throw new CliError("invalid_argument", `${where(inv)}: ${file} is not a watch state`, { cause: err });
  }
}

async function saveState(inv: Invocation, file: string, state: WatchState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(state)}\n`, { flag: "wx", mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    throw new CliError("unavailable", `${where(inv)}: cannot save ${file}`, { cause: err });
  }
}

/** `lineage member watch`. */
export const memberWatch: Command = {
  name: "watch",
  summary:
    "Report every log entry in this member's name (membership change, commitment, attestation) not signed by one of its own keys; exit 1 if any.",
  options: {
    hub: { type: "string", valueName: "host:port", required: true, description: "The hub's gRPC address." },
    member: { type: "string", valueName: "id", required: true, description: "This member's id." },
    key: {
      type: "string",
      valueName: "file",
      multiple: true,
      required: true,
      description: "A public key (PEM) this member holds; repeat for every current and past key.",
    },
    state: {
      type: "string",
      valueName: "dir",
      required: true,
      description: "Where the position read so far is kept (one file per member).",
    },
    "log-key": {
      type: "string",
      valueName: "vkey",
      description: "The hub's C2SP verifier key; default $LINEAGE_HUB_VERIFIER_KEY.",
    },
    "tls-ca": {
      type: "string",
      valueName: "file",
      description: "PEM CA the hub's certificate must chain to (without it the connection is plaintext).",
    },
    ...clientCertFlags,
    "timeout-ms": { type: "string", valueName: "ms", description: "Per-call timeout.", default: "10000" },
  },
  run: async (inv) => {
    const memberId = requiredStringOpt(inv, "member");
    if (!MEMBER_ID_RE.test(memberId)) {
      throw new CliError("invalid_argument", `${where(inv)}: --member must be 1-64 of [a-z0-9-]`);
    }
    const hub = hubAddress(inv, true);
    const trust = trustOf(inv);
    const keys: Ed25519PublicKey[] = [];
    for (const f of stringListOpt(inv, "key")) keys.push(await readPublicKeyFile(inv, f, "--key"));
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
    const credentials = await credentialsOf(inv);
    const dir = resolve(inv.io.cwd, requiredStringOpt(inv, "state"));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `watch-${memberId}.json`);
    const saved = await loadState(inv, file);
    let report: Awaited<ReturnType<typeof watchMember>>;
    try {
      using checkpoints = hubCheckpointSource(hub, credentials, timeoutMs);
      using entries = hubEntrySource(hub, credentials, timeoutMs);
      report = await watchMember(checkpoints, entries, trust, memberId, keys, saved);
    } catch (err) {
      const e = err instanceof AuditError ? err : new AuditError("internal", String(err), { cause: err });
      const exit = exitCodeFor(e.code);
      emit(inv, { ok: false, code: e.code, message: e.message }, `WATCH FAILED [${e.code}]: ${e.message}`);
      return exit;
    }
    await saveState(inv, file, report.state);
    const lines = report.entries.map((e) =>
      e.foreign
        ? `FOREIGN  entry ${e.index} (${e.kind}) in the name of ${memberId}: ${e.what}; signed by ${e.signedBy.join(", ")}: none of your keys`
        : e.hubDecision
          ? `notice   entry ${e.index} (${e.kind}): hub decision ${e.what}`
          : `ok       entry ${e.index} (${e.kind}): ${e.what}, signed by your key`,
    );
    emit(
      inv,
      {
        ok: report.foreign.length === 0,
        member_id: memberId,
        from: report.from,
        to: report.to,
        entries: report.entries,
        foreign: report.foreign.length,
      },
      `${lines.join("\n")}${lines.length > 0 ? "\n" : ""}read entries [${report.from}, ${report.to}) of the log: ${report.entries.length} in the name of ${memberId}, ${report.foreign.length} not made with your keys`,
    );
    return report.foreign.length === 0 ? EXIT.ok : EXIT.failed;
  },
};
