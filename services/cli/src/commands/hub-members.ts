/**
 * `lineage hub members add|list|suspend|reinstate|remove` (issue 10, Membership; issue 8: writers go
 * through the running hub) and what `lineage hub enrol` shares with them: opening the hub's log from its
 * flags, or — with `--hub ADDR` — sending the change to the running hub, which owns the log.
 *
 * A running `lineage hub serve` holds its embedded data folder (libs/store data-dir-lock.ts): a second
 * writer on it would fork the log, so a command that finds the folder held says to use --hub. With
 * --hub, requests carry a header signed by --key (the secretariat's hub key): a wrong key is refused by
 * the hub (UNAUTHENTICATED) before anything is logged, and a wrong --origin is refused here, from the
 * hub's own signed checkpoint, before anything is sent.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import {
  EnrolMemberRequestSchema,
  Hub,
  type Member,
  MemberStatus,
  MembershipAction,
  type MembershipRecord,
  MembershipRecordSchema,
  SetMemberStatusRequestSchema,
} from "@lineage/api";
import { type DsseEnvelope, type Ed25519PrivateKey, parseEnvelope } from "@lineage/crypto";
import {
  envelopeToProto,
  isLogError,
  keyFingerprint,
  type LoggedMember,
  rewrapEpochKeys,
  SECRETARIAT,
  signRequest,
  TransparencyLog,
} from "@lineage/hub";
import { createClient, RpcError, type ServiceClient } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, isStoreError, type Store } from "@lineage/store";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { emit, intOpt, requiredStringOpt, stringOpt } from "../option-values.js";
import type { StartupMark } from "../startup-trace.js";
import { cliErrorFromStore } from "../store-errors.js";
import { openRoleStore, storeFlags, storeOptionsFrom } from "../store-flags.js";
import { credentialsOf, hubAddress } from "./audit.js";
import { clientCertFlags } from "./client-tls.js";
import { promoteNextRoot, readRootFiles, recordPastRoot, secretariatKey } from "./hub-keys-files.js";
import { readBoundedFile, readHubKeySet, readPublicKeyFile } from "./keygen.js";
import { MEMBER_ID_RE } from "./member-enrol-request.js";

/** --key, --origin and the store flags: what opening the hub's log needs. */
export const logFlags: Readonly<Record<string, OptionSpec>> = {
  key: { type: "string", valueName: "file", required: true, description: "The hub's private key (PEM)" },
  origin: {
    type: "string",
    valueName: "origin",
    required: true,
    description: "Log origin, e.g. lineage.example/log",
  },
  ...storeFlags,
};

/** --hub and its transport flags: send the change to the running hub instead of opening its log. */
export const hubWriteFlags: Readonly<Record<string, OptionSpec>> = {
  hub: {
    type: "string",
    valueName: "host:port",
    description: "Send the change to the running hub at this address (it owns the log) instead of opening it",
  },
  "tls-ca": {
    type: "string",
    valueName: "file",
    description: "With --hub: PEM CA the hub's certificate must chain to (without it: plaintext)",
  },
  ...clientCertFlags,
  "timeout-ms": {
    type: "string",
    valueName: "ms",
    description: "With --hub: per-call timeout",
    default: "10000",
  },
};

export function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

/** `<dataDir>.serving`: where the hub that holds an embedded folder serves (written by `hub serve`). */
function servingFileOf(inv: Invocation): string | undefined {
  const opts = storeOptionsFrom(inv, "hub");
  return opts.kind === "pglite" && opts.dataDir !== undefined
    ? `${resolve(opts.dataDir)}.serving`
    : undefined;
}

/**
 * Records where `hub serve` listens, beside its embedded folder's lock; `remove()` when it stops. Nothing
 * for a Postgres store (several hubs may share one; there is no folder to be held).
 */
export async function recordServing(
  inv: Invocation,
  address: string,
  tls: boolean,
): Promise<{ remove(): Promise<void> }> {
  const file = servingFileOf(inv);
  if (file === undefined) return { remove: async () => {} };
  await writeFile(file, `${JSON.stringify({ address, tls, pid: process.pid, host: hostname() })}\n`, {
    mode: 0o644,
  });
  return { remove: () => rm(file, { force: true }) };
}

/** The address recorded by the live hub serving this folder, if any (a hint for the error message). */
async function servingAddress(inv: Invocation): Promise<{ address: string; tls: boolean } | undefined> {
  const file = servingFileOf(inv);
  if (file === undefined) return undefined;
  try {
    const text = await readFile(file, "utf8");
    if (text.length > 1024) return undefined;
    const v = JSON.parse(text) as { address?: unknown; tls?: unknown; pid?: unknown; host?: unknown };
    if (typeof v.address !== "string" || !/^[A-Za-z0-9.[\]:_-]{1,255}:[0-9]{1,5}$/.test(v.address))
      return undefined;
    if (typeof v.pid !== "number" || v.host !== hostname()) return undefined;
    try {
      process.kill(v.pid, 0); // alive? (EPERM: alive, another user)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EPERM") return undefined;
    }
    return { address: v.address, tls: v.tls === true };
  } catch {
    return undefined;
  }
}

/** Opens the hub's store and log from the flags; the caller disposes both. */
export async function openLog(
  inv: Invocation,
  options: { readonly rootRotationReason?: string; readonly mark?: StartupMark } = {},
): Promise<{ store: Store<HubDatabase>; log: TransparencyLog }> {
  const mark = options.mark ?? (() => {});
  // The key set: the root (--key) and the purpose keys beside it (docs/specs/hub-keys.md).
  const { root: hubKey, purposeKeys } = await readHubKeySet(inv, requiredStringOpt(inv, "key"), "--key");
  const origin = requiredStringOpt(inv, "origin");
  let store: Store<HubDatabase>;
  try {
    store = await openRoleStore<HubDatabase>(inv, "hub");
    mark("store_open");
    await store.migrate(hubMigrations);
    mark("migrations");
  } catch (err) {
    // The embedded folder has one owner (libs/store data-dir-lock.ts): a second writer on it would fork
    // the log, so say who holds it and how to reach it instead.
    if (isStoreError(err, "locked")) {
      const at = await servingAddress(inv);
      const hint =
        at === undefined
          ? "--hub ADDR (the address it printed)"
          : `--hub ${at.address}${at.tls ? " --tls-ca FILE" : ""} (where it serves)`;
      throw new CliError(
        "unavailable",
        `${where(inv)}: ${err.message}. A running \`lineage hub serve\` owns its data folder: send the change through it with ${hint}, or stop it first`,
        { cause: err },
      );
    }
    throw cliErrorFromStore(err, where(inv));
  }
  try {
    // open() re-verifies the stored log against this key and origin before anything is signed: a wrong
    // --key fails with unknown_key, a wrong --origin with invalid_argument (log-integrity.ts).
    // A root rotation in progress (hub-keys-files.ts) is logged or adopted by open(), then completed here.
    const roots = await readRootFiles(inv, requiredStringOpt(inv, "key"));
    const next = roots.nextRoot;
    if (next !== undefined) await recordPastRoot(where(inv), roots, hubKey.publicKey);
    const log = await TransparencyLog.open({
      store,
      origin,
      hubKey,
      purposeKeys,
      ...(roots.trustRoot === undefined ? {} : { trustRoot: roots.trustRoot }),
      ...(next === undefined ? {} : { nextRoot: next }),
      ...(options.rootRotationReason === undefined ? {} : { nextRootReason: options.rootRotationReason }),
    });
    mark("log_verified");
    if (next !== undefined) {
      try {
        await rewrapEpochKeys(store, hubKey, next);
        await promoteNextRoot(where(inv), roots);
      } catch (err) {
        await log.close();
        throw err;
      }
    }
    return { store, log };
  } catch (err) {
    await store.close();
    throw logToCli(err, inv);
  }
}

export function logToCli(err: unknown, inv: Invocation): CliError {
  if (err instanceof CliError) return err;
  if (isLogError(err)) {
    const code = ["invalid_argument", "malformed", "too_large"].includes(err.code)
      ? "invalid_argument"
      : "failed";
    return new CliError(code, `${where(inv)}: ${err.message}`, { cause: err });
  }
  return cliErrorFromStore(err, where(inv));
}

/** An error from the running hub as the CLI reports it (the hub's code named, its safe message kept). */
function rpcToCli(err: unknown, inv: Invocation): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof RpcError) {
    const code =
      err.code === "unavailable" || err.code === "timeout"
        ? "unavailable"
        : err.code === "invalid_argument" || err.code === "malformed"
          ? "invalid_argument"
          : "failed";
    const hint =
      err.code === "unknown_key" || err.code === "bad_signature" ? " (is --key the running hub's key?)" : "";
    return new CliError(code, `${where(inv)}: the hub refused it [${err.code}]: ${err.message}${hint}`, {
      cause: err,
    });
  }
  return new CliError("internal", `${where(inv)}: ${(err as Error).message}`, { cause: err });
}

/** Whether --hub is given; --hub and the store flags exclude each other. */
function viaHub(inv: Invocation): boolean {
  const hub = stringOpt(inv, "hub");
  if (hub === undefined) return false;
  for (const f of ["pg", "data-dir", "schema"]) {
    if (stringOpt(inv, f) !== undefined) {
      throw new CliError(
        "usage",
        `${where(inv)}: --hub and --${f} exclude each other (the hub owns its store)`,
      );
    }
  }
  return true;
}

/**
 * A client of the hub at --hub whose served checkpoint is of --origin (when the command has one): a wrong
 * origin is refused here, before any write is sent.
 */
async function hubClient(inv: Invocation): Promise<ServiceClient<typeof Hub>> {
  const address = hubAddress(inv, true);
  const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
  const client = createClient(Hub, address, await credentialsOf(inv), { defaultTimeoutMs: timeoutMs });
  const origin = stringOpt(inv, "origin");
  if (origin === undefined) return client;
  try {
    const cp = await client.getCheckpoint({});
    const note = new TextDecoder().decode(cp.checkpoint?.signedNote ?? new Uint8Array());
    const served = note.slice(0, Math.max(0, note.indexOf("\n")));
    if (served !== origin) {
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: the hub at ${address} serves origin "${served.slice(0, 256)}", not --origin "${origin}"; nothing was sent`,
      );
    }
  } catch (err) {
    client.close();
    throw rpcToCli(err, inv);
  }
  return client;
}

/** Largest enrolment request read (a DSSE envelope of one membership record). */
const MAX_REQUEST_BYTES = 64 * 1024;

/** Reads and checks the member's signed enrolment request against what was confirmed out of band. */
async function readEnrolment(
  inv: Invocation,
): Promise<{ envelope: DsseEnvelope; record: MembershipRecord; fingerprint: string; keyId: string }> {
  const expectedId = stringOpt(inv, "member-id");
  if (expectedId !== undefined && !MEMBER_ID_RE.test(expectedId)) {
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --member-id must be 1-64 of [a-z0-9-], starting with a letter or digit`,
    );
  }
  const heard = requiredStringOpt(inv, "fingerprint").trim().toLowerCase().replace(/\s+/g, "");
  const file = requiredStringOpt(inv, "request");
  const text = await readBoundedFile(
    where(inv),
    resolve(inv.io.cwd, file),
    "--request",
    MAX_REQUEST_BYTES,
    false,
    "a DSSE JSON file",
  );
  // Untrusted input: parsed strictly, decoded, and its key checked against what was heard, before the
  // hub signs anything.
  let envelope: DsseEnvelope;
  let record: MembershipRecord;
  try {
    envelope = parseEnvelope(text);
    record = fromBinary(MembershipRecordSchema, envelope.payload);
  } catch (err) {
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --request ${file} is not a signed membership record`,
      {
        cause: err,
      },
    );
  }
  const key = record.key;
  if (record.action !== MembershipAction.ENROL || key === undefined) {
    throw new CliError("invalid_argument", `${where(inv)}: --request ${file} is not an enrolment`);
  }
  const fingerprint = keyFingerprint(key.publicKey);
  if (heard !== fingerprint || record.confirmedFingerprint !== fingerprint) {
    throw new CliError(
      "failed",
      `${where(inv)}: the request's key has fingerprint ${fingerprint}, not the one confirmed out of band (${heard.slice(0, 80)}); nothing was logged`,
    );
  }
  if (expectedId !== undefined && record.memberId !== expectedId) {
    throw new CliError(
      "failed",
      `${where(inv)}: the request enrols '${record.memberId.slice(0, 64)}', not ${expectedId}`,
    );
  }
  const pubFile = stringOpt(inv, "public-key");
  if (pubFile !== undefined) {
    const expected = await readPublicKeyFile(inv, pubFile, "--public-key");
    if (expected.keyId !== key.keyId) {
      throw new CliError("failed", `${where(inv)}: the request's key is not --public-key ${pubFile}`);
    }
  }
  return { envelope, record, fingerprint, keyId: key.keyId };
}

const enrolOptions: Readonly<Record<string, OptionSpec>> = {
  ...logFlags,
  ...hubWriteFlags,
  request: {
    type: "string",
    valueName: "file",
    required: true,
    description: "The member's signed enrolment request (DSSE JSON from 'lineage member enrol-request')",
  },
  fingerprint: {
    type: "string",
    valueName: "fp",
    required: true,
    description: "The key fingerprint the member read aloud (xxxx-xxxx-...), confirmed out of band",
  },
  "member-id": {
    type: "string",
    valueName: "id",
    description: "Expected member id (checked against the request)",
  },
  "public-key": {
    type: "string",
    valueName: "file",
    description: "Expected public key (PEM), if received separately (checked against the request)",
  },
};

async function runEnrol(inv: Invocation): Promise<number> {
  const { envelope, record, fingerprint, keyId } = await readEnrolment(inv);
  const done = (index: number | bigint, checkpointSize: number | undefined) => {
    emit(
      inv,
      {
        member_id: record.memberId,
        key_id: keyId,
        fingerprint,
        log_index: Number(index),
        ...(checkpointSize === undefined ? {} : { checkpoint_size: checkpointSize }),
      },
      `enrolled ${record.memberId} (key ${keyId}, fingerprint ${fingerprint}) at log index ${index}` +
        (checkpointSize === undefined ? "" : `; checkpoint size ${checkpointSize}`),
    );
    return EXIT.ok;
  };
  if (viaHub(inv)) {
    const hubKey = await secretariatKey(inv, requiredStringOpt(inv, "key"));
    using client = await hubClient(inv);
    try {
      const res = await client.enrolMember(
        secretariatRequest(EnrolMemberRequestSchema, hubKey, {
          memberId: record.memberId,
          displayName: record.displayName,
          record: envelopeToProto(envelope),
        }),
      );
      return done(res.logEntry?.index ?? 0n, undefined);
    } catch (err) {
      throw rpcToCli(err, inv);
    }
  }
  const { store, log } = await openLog(inv);
  try {
    const entry = await log.appendMembership(envelope);
    const cp = await log.checkpoint();
    return done(entry.index, cp.treeSize);
  } catch (err) {
    throw logToCli(err, inv);
  } finally {
    await log.close();
    await store.close();
  }
}

function secretariatRequest<S extends typeof EnrolMemberRequestSchema | typeof SetMemberStatusRequestSchema>(
  schema: S,
  hubKey: Ed25519PrivateKey,
  init: Parameters<typeof create<S>>[1],
) {
  return signRequest(schema, create(schema, init), { memberId: SECRETARIAT, key: hubKey });
}

const ENROL_DESCRIPTION =
  "The hub cannot enrol a key alone: the request is signed by the member's new key (proof of possession),\n" +
  "and --fingerprint is what the member read aloud on a call the secretariat placed. Nothing is signed\n" +
  "or logged unless the request's key has exactly that fingerprint (and, if given, is --public-key).\n" +
  "With --hub ADDR the running hub logs it (the request is signed with --key, which must be its key, and\n" +
  "--origin must be what it serves); without, the log is opened from --pg/--data-dir, which a running hub holds.";

/** `lineage hub enrol` (kept for scripts; the same as `lineage hub members add`). */
export const enrol: Command = {
  name: "enrol",
  summary:
    "Enrol a member from its signed request (lineage member enrol-request) once its fingerprint is confirmed out of band; logged, then a checkpoint.",
  description: ENROL_DESCRIPTION,
  options: enrolOptions,
  run: runEnrol,
};

const add: Command = {
  name: "add",
  summary: "Enrol a member from its signed request once its fingerprint is confirmed out of band (logged).",
  description: ENROL_DESCRIPTION,
  options: enrolOptions,
  run: runEnrol,
};

const STATUS_NAMES: Record<number, string> = {
  [MemberStatus.ACTIVE]: "active",
  [MemberStatus.SUSPENDED]: "suspended",
  [MemberStatus.REMOVED]: "removed",
};

interface MemberRow {
  readonly member_id: string;
  readonly display_name: string;
  readonly status: string;
  readonly enrolment_log_index: number;
  readonly keys: { readonly key_id: string; readonly revoked: boolean }[];
}

function rowOfProto(m: Member): MemberRow {
  return {
    member_id: m.memberId,
    display_name: m.displayName,
    status: STATUS_NAMES[m.status] ?? "unknown",
    enrolment_log_index: Number(m.enrolmentLogIndex),
    keys: m.keys.map((k) => ({ key_id: k.keyId, revoked: k.revokedAt !== undefined })),
  };
}

function rowOfLog(m: LoggedMember, log: TransparencyLog): MemberRow {
  return {
    member_id: m.memberId,
    display_name: m.displayName,
    status: m.status,
    enrolment_log_index: m.enrolledAtIndex,
    keys: log
      .memberKeys(m.memberId)
      .map((k) => ({ key_id: k.keyId, revoked: k.revokedAtIndex !== undefined })),
  };
}

const list: Command = {
  name: "list",
  summary: "List the members as the log established them (status, keys).",
  options: {
    ...hubWriteFlags,
    key: { type: "string", valueName: "file", description: "Without --hub: the hub's private key (PEM)" },
    origin: { type: "string", valueName: "origin", description: "Log origin (checked against the hub's)" },
    ...storeFlags,
  },
  run: async (inv) => {
    const rows: MemberRow[] = [];
    if (viaHub(inv)) {
      using client = await hubClient(inv);
      try {
        let token = "";
        for (let page = 0; page < 10_000; page++) {
          const res = await client.listMembers({ pageSize: 500, pageToken: token });
          rows.push(...res.members.map(rowOfProto));
          token = res.nextPageToken;
          if (token === "") break;
        }
      } catch (err) {
        throw rpcToCli(err, inv);
      }
    } else {
      const { store, log } = await openLog(inv);
      try {
        rows.push(...log.members().map((m) => rowOfLog(m, log)));
      } finally {
        await log.close();
        await store.close();
      }
    }
    const text = rows
      .map(
        (r) =>
          `${r.member_id}\t${r.status}\tenrolled at ${r.enrolment_log_index}\t` +
          r.keys.map((k) => `${k.key_id.slice(0, 16)}${k.revoked ? " (revoked)" : ""}`).join(", "),
      )
      .join("\n");
    emit(inv, { members: rows }, rows.length === 0 ? "no members" : text);
    return EXIT.ok;
  },
};

function statusCommand(name: "suspend" | "reinstate" | "remove", action: MembershipAction): Command {
  return {
    name,
    summary: `${name[0]?.toUpperCase()}${name.slice(1)} a member (a hub-signed membership record, logged).`,
    options: {
      ...logFlags,
      ...hubWriteFlags,
      "member-id": { type: "string", valueName: "id", required: true, description: "The member" },
      reason: {
        type: "string",
        valueName: "text",
        required: true,
        description: "Why (1..512 characters), logged",
      },
    },
    run: async (inv) => {
      const memberId = requiredStringOpt(inv, "member-id");
      if (!MEMBER_ID_RE.test(memberId)) {
        throw new CliError("invalid_argument", `${where(inv)}: --member-id must be 1-64 of [a-z0-9-]`);
      }
      const reason = requiredStringOpt(inv, "reason");
      if (reason.length === 0 || reason.length > 512) {
        throw new CliError("invalid_argument", `${where(inv)}: --reason must be 1..512 characters`);
      }
      const done = (index: number | bigint) => {
        emit(
          inv,
          { member_id: memberId, action: name, log_index: Number(index) },
          `${name}: ${memberId} at log index ${index}`,
        );
        return EXIT.ok;
      };
      if (viaHub(inv)) {
        const hubKey = await secretariatKey(inv, requiredStringOpt(inv, "key"));
        using client = await hubClient(inv);
        try {
          const res = await client.setMemberStatus(
            secretariatRequest(SetMemberStatusRequestSchema, hubKey, { memberId, action, reason }),
          );
          return done(res.logEntry?.index ?? 0n);
        } catch (err) {
          throw rpcToCli(err, inv);
        }
      }
      const { store, log } = await openLog(inv);
      try {
        const entry = await log.appendMembership({
          action,
          memberId,
          reason,
          effectiveAt: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
        });
        await log.checkpoint();
        return done(entry.index);
      } catch (err) {
        throw logToCli(err, inv);
      } finally {
        await log.close();
        await store.close();
      }
    },
  };
}

/** `lineage hub members ...`. */
export const members: Command = {
  name: "members",
  summary:
    "Manage the alliance's members: add (enrol), list, suspend, reinstate, remove; every change logged.",
  subcommands: [
    add,
    list,
    statusCommand("suspend", MembershipAction.SUSPEND),
    statusCommand("reinstate", MembershipAction.REINSTATE),
    statusCommand("remove", MembershipAction.REMOVE),
  ],
};
