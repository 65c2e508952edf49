/**
 * `lineage hub epoch create|rotate|show`: the secretariat's epoch batteries (DESIGN.md "Epoch battery").
 * `create` starts the first epoch, `rotate` the next one (sketches of the previous epoch are refused from
 * then on); both read a battery file, check it, draw a fresh 32-byte sketch key, sign the epoch with the
 * hub key and store it in the hub database. `show` prints an epoch's public facts — never its probes or
 * key, which go to members only (Hub.GetEpochBattery).
 *
 * Battery file: JSON `{"probes": [{"index": 0, "kind": "edge_case" | "open_ended" | "short_completion",
 * "prompt": "...", "reference_answer": "..." (edge cases), "max_tokens": 64, "top_logprobs": 5}]}`.
 */
import { resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type Probe, ProbeKind, ProbeSchema } from "@lineage/api";
import { toHex } from "@lineage/crypto";
import { type EpochRecord, EpochStore, isHubError, isLogError, TransparencyLog } from "@lineage/hub";
import { type HubDatabase, hubMigrations, isStoreError, type Store } from "@lineage/store";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { emit, intOpt, requiredStringOpt, stringOpt } from "../option-values.js";
import { cliErrorFromStore } from "../store-errors.js";
import { openRoleStore, storeFlags } from "../store-flags.js";
import { readBoundedFile, readHubKeySet } from "./keygen.js";

/** Largest battery file read (4096 probes of 8192-char prompts and 4096-char answers fit). */
const MAX_BATTERY_BYTES = 64 * 1024 * 1024;
const KINDS: Readonly<Record<string, ProbeKind>> = {
  edge_case: ProbeKind.EDGE_CASE,
  open_ended: ProbeKind.OPEN_ENDED,
  short_completion: ProbeKind.SHORT_COMPLETION,
};

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

async function openStore(inv: Invocation): Promise<Store<HubDatabase>> {
  try {
    const store = await openRoleStore<HubDatabase>(inv, "hub");
    await store.migrate(hubMigrations);
    return store;
  } catch (err) {
    if (isStoreError(err, "locked")) {
      throw new CliError(
        "unavailable",
        `${where(inv)}: ${err.message}. A running \`lineage hub serve\` owns its data folder: stop it first`,
        { cause: err },
      );
    }
    throw cliErrorFromStore(err, where(inv));
  }
}

/** Parses a battery file (untrusted JSON) into probes; field checks follow in EpochStore (checkProbes). */
export function parseBattery(text: string, what: string): Probe[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CliError("invalid_argument", `${what} is not valid JSON`);
  }
  const probes = (doc as { probes?: unknown } | null)?.probes;
  if (typeof doc !== "object" || doc === null || !Array.isArray(probes)) {
    throw new CliError("invalid_argument", `${what} must be an object with a "probes" array`);
  }
  return probes.map((p: unknown, i: number) => {
    const at = `${what}: probes[${i}]`;
    if (typeof p !== "object" || p === null || Array.isArray(p))
      throw new CliError("invalid_argument", `${at} must be an object`);
    const o = p as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!["index", "kind", "prompt", "reference_answer", "max_tokens", "top_logprobs"].includes(k)) {
        throw new CliError("invalid_argument", `${at} has an unknown field "${k.slice(0, 40)}"`);
      }
    }
    const int = (k: string, dflt?: number): number => {
      const v = o[k] ?? dflt;
      if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 0xffffffff) {
        throw new CliError("invalid_argument", `${at}.${k} must be a non-negative integer`);
      }
      return v as number;
    };
    const kind = typeof o.kind === "string" ? KINDS[o.kind] : undefined;
    if (kind === undefined)
      throw new CliError("invalid_argument", `${at}.kind must be one of ${Object.keys(KINDS).join(", ")}`);
    if (typeof o.prompt !== "string") throw new CliError("invalid_argument", `${at}.prompt must be a string`);
    if (o.reference_answer !== undefined && typeof o.reference_answer !== "string") {
      throw new CliError("invalid_argument", `${at}.reference_answer must be a string`);
    }
    return create(ProbeSchema, {
      index: int("index"),
      kind,
      prompt: o.prompt,
      referenceAnswer: (o.reference_answer as string | undefined) ?? "",
      maxTokens: int("max_tokens"),
      topLogprobs: int("top_logprobs", 0),
    });
  });
}

function facts(r: EpochRecord) {
  return {
    epoch_id: r.epochId,
    number: r.number,
    not_before: new Date(r.notBeforeMs).toISOString(),
    not_after: new Date(r.notAfterMs).toISOString(),
    probes: r.probeCount,
    battery_digest: toHex(r.batteryDigest),
    previous_epoch_id: r.previousEpochId ?? null,
  };
}

function human(r: EpochRecord): string {
  return (
    `epoch ${r.epochId} (number ${r.number}), ${r.probeCount} probes, valid ${new Date(r.notBeforeMs).toISOString()} .. ` +
    `${new Date(r.notAfterMs).toISOString()}\nbattery digest ${toHex(r.batteryDigest)}` +
    (r.previousEpochId === undefined ? "" : `\nreplaces ${r.previousEpochId}`)
  );
}

const writeFlags: Readonly<Record<string, OptionSpec>> = {
  key: { type: "string", valueName: "file", required: true, description: "The hub's private key (PEM)" },
  origin: {
    type: "string",
    valueName: "origin",
    required: true,
    description: "Log origin (checks the key is the log's)",
  },
  "epoch-id": {
    type: "string",
    valueName: "id",
    required: true,
    description: "New epoch id, 1-64 of [A-Za-z0-9._:-]",
  },
  battery: {
    type: "string",
    valueName: "file",
    required: true,
    description: "Battery JSON file (see lineage hub epoch --help)",
  },
  days: { type: "string", valueName: "n", default: "30", description: "Validity in days from now (1-400)" },
  ...storeFlags,
};

function writeCommand(name: "create" | "rotate"): Command {
  return {
    name,
    summary:
      name === "create"
        ? "Create the first epoch from a battery file: a fresh sketch key, hub-signed, stored."
        : "Start the next epoch now from a battery file; sketches of the previous epoch are refused from now on.",
    options: writeFlags,
    run: async (inv) => {
      const days = intOpt(inv, "days", { min: 1, max: 400 }, 30) as number;
      const epochId = requiredStringOpt(inv, "epoch-id");
      const file = requiredStringOpt(inv, "battery");
      const text = await readBoundedFile(
        where(inv),
        resolve(inv.io.cwd, file),
        "--battery",
        MAX_BATTERY_BYTES,
        false,
        "a battery file",
      );
      const probes = parseBattery(text, `${where(inv)}: --battery ${file}`);
      // The key set: the root signs the epoch and wraps its key; the membership key (hub.membership.pem
      // beside it, when there is one) signs the epoch's log statement (docs/specs/hub-keys.md).
      const { root: hubKey, purposeKeys } = await readHubKeySet(inv, requiredStringOpt(inv, "key"), "--key");
      const origin = requiredStringOpt(inv, "origin");
      const store = await openStore(inv);
      try {
        // Opening the log re-verifies it against this key and origin: a wrong --key signs nothing.
        const log = await TransparencyLog.open({ store, origin, hubKey, purposeKeys }).catch(
          (err: unknown) => {
            throw new CliError("failed", `${where(inv)}: ${isLogError(err) ? err.message : String(err)}`, {
              cause: err,
            });
          },
        );
        let record: EpochRecord;
        try {
          // A fresh log signs its first checkpoint now, so this key is the store's from here on.
          if (log.latestCheckpoint === undefined) await log.checkpoint();
          // The epoch's statement (battery digest, key commitment) is logged before the epoch is stored.
          const epochs = new EpochStore(store, hubKey, { log });
          const input = { epochId, probes, notAfterMs: Date.now() + days * 86_400_000 };
          record = name === "create" ? await epochs.create(input) : await epochs.rotate(input);
        } finally {
          await log.close();
        }
        emit(inv, facts(record), `${name === "create" ? "created" : "rotated to"} ${human(record)}`);
        return EXIT.ok;
      } catch (err) {
        if (isHubError(err)) {
          const code =
            err.code === "invalid_argument" || err.code === "malformed" ? "invalid_argument" : "failed";
          throw new CliError(code, `${where(inv)}: ${err.message}`, { cause: err });
        }
        throw err instanceof CliError ? err : cliErrorFromStore(err, where(inv));
      } finally {
        await store.close();
      }
    },
  };
}

const show: Command = {
  name: "show",
  summary: "Show an epoch's public facts (default: the current one); never its probes or key.",
  options: {
    "epoch-id": { type: "string", valueName: "id", description: "Epoch to show (default: the current one)" },
    ...storeFlags,
  },
  run: async (inv) => {
    const epochId = stringOpt(inv, "epoch-id");
    const store = await openStore(inv);
    try {
      const epochs = new EpochStore(store);
      const record = epochId === undefined ? await epochs.current() : await epochs.get(epochId);
      if (record === undefined) {
        throw new CliError(
          "failed",
          `${where(inv)}: ${epochId === undefined ? "no epoch is current" : `no epoch ${epochId}`}`,
        );
      }
      emit(inv, facts(record), human(record));
      return EXIT.ok;
    } catch (err) {
      if (isHubError(err))
        throw new CliError("invalid_argument", `${where(inv)}: ${err.message}`, { cause: err });
      throw err instanceof CliError ? err : cliErrorFromStore(err, where(inv));
    } finally {
      await store.close();
    }
  },
};

export const hubEpoch: Command = {
  name: "epoch",
  summary: "Create, rotate and show epoch batteries (probes and sketch key go to members only).",
  subcommands: [writeCommand("create"), writeCommand("rotate"), show],
};
