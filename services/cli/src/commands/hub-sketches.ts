/**
 * `lineage hub sketches suppress|list` (issue 10): the secretariat takes one member sketch out of retrieval —
 * e.g. a model that keeps producing false leads — through the running hub's Hub.SuppressSketch (a request signed
 * with --key, the secretariat's hub key). The hub logs the suppression (SketchSuppression: who, which sketch,
 * why) before the sketch leaves the index, and keeps the sketch stored with its reason. `list` reads the hub's
 * database (like `hub epoch show`) and prints sketches by status — never their digests.
 */
import { create } from "@bufbuild/protobuf";
import { SuppressSketchRequestSchema } from "@lineage/api";
import { toHex } from "@lineage/crypto";
import { SECRETARIAT, signRequest } from "@lineage/hub";
import { type HubDatabase, hubMigrations, isStoreError, type Store } from "@lineage/store";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { choiceOpt, emit, intOpt, requiredStringOpt, stringOpt } from "../option-values.js";
import { cliErrorFromStore } from "../store-errors.js";
import { openRoleStore, storeFlags } from "../store-flags.js";
import { client, connectFlags, rpcToCli } from "./hub-cases.js";
import { secretariatKey } from "./hub-keys-files.js";

const where = (inv: Invocation) => ["lineage", ...inv.path].join(" ");
const SKETCH_ID_RE = /^[0-9a-f]{64}$/;
const STATUSES = ["suppressed", "active", "superseded", "withdrawn", "all"] as const;

const suppress: Command = {
  name: "suppress",
  summary: "Take one sketch out of retrieval (logged: who, which sketch, why); it stays stored.",
  options: {
    ...connectFlags,
    sketch: {
      type: "string",
      valueName: "id",
      required: true,
      description: "The sketch id (64 lowercase hex: SHA-256 of its payload)",
    },
    key: {
      type: "string",
      valueName: "file",
      required: true,
      description: "The hub's (secretariat's) private key (PEM)",
    },
    reviewer: {
      type: "string",
      valueName: "name",
      required: true,
      description: "Who decides (1..128 chars), logged",
    },
    reason: { type: "string", valueName: "text", required: true, description: "Why (1..1024 chars), logged" },
  },
  run: async (inv) => {
    const sketchId = requiredStringOpt(inv, "sketch");
    if (!SKETCH_ID_RE.test(sketchId))
      throw new CliError("invalid_argument", `${where(inv)}: --sketch must be 64 lowercase hex characters`);
    const reviewer = requiredStringOpt(inv, "reviewer");
    if (reviewer.trim() === "" || reviewer.length > 128)
      throw new CliError("invalid_argument", `${where(inv)}: --reviewer must be 1..128 characters`);
    const reason = requiredStringOpt(inv, "reason");
    if (reason.trim() === "" || reason.length > 1024)
      throw new CliError("invalid_argument", `${where(inv)}: --reason must be 1..1024 characters`);
    // The membership key beside the root (hub.membership.pem) when there is one: what the hub accepts.
    const hubKey = await secretariatKey(inv, requiredStringOpt(inv, "key"));
    const c = await client(inv);
    try {
      const req = signRequest(
        SuppressSketchRequestSchema,
        create(SuppressSketchRequestSchema, { sketchId, reason, reviewer }),
        { memberId: SECRETARIAT, key: hubKey },
      );
      let res: Awaited<ReturnType<typeof c.suppressSketch>>;
      try {
        res = await c.suppressSketch(req);
      } catch (err) {
        throw rpcToCli(err, inv);
      }
      const j = {
        sketch_id: res.sketchId,
        member_id: res.memberId,
        model_id: res.modelId,
        model_version: res.modelVersion,
        log_index: res.logEntry === undefined ? null : Number(res.logEntry.index),
        leaf_hash: res.logEntry === undefined ? null : toHex(res.logEntry.leafHash),
      };
      emit(
        inv,
        j,
        `suppressed sketch ${j.sketch_id} of ${j.member_id}/${j.model_id}@${j.model_version}; logged at index ${j.log_index}`,
      );
      return EXIT.ok;
    } finally {
      c.close();
    }
  },
};

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

const list: Command = {
  name: "list",
  summary: "List sketches by status (default: suppressed) with their reason; never their digests.",
  options: {
    status: {
      type: "string",
      valueName: "status",
      description: `One of ${STATUSES.join(", ")}`,
      default: "suppressed",
    },
    "epoch-id": { type: "string", valueName: "id", description: "Only this epoch" },
    limit: { type: "string", valueName: "n", description: "At most n rows (1..10000)", default: "100" },
    ...storeFlags,
  },
  run: async (inv) => {
    const status = choiceOpt(inv, "status", STATUSES, "suppressed") as (typeof STATUSES)[number];
    const epochId = stringOpt(inv, "epoch-id");
    if (epochId !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(epochId))
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --epoch-id must be 1..64 characters of [A-Za-z0-9._:-]`,
      );
    const limit = intOpt(inv, "limit", { min: 1, max: 10_000 }, 100) as number;
    const store = await openStore(inv);
    try {
      let q = store.db
        .selectFrom("sketches")
        .select([
          "sketch_id",
          "epoch_id",
          "member_id",
          "model_id",
          "model_version",
          "status",
          "status_reason",
          "status_at",
        ]);
      if (status !== "all") q = q.where("status", "=", status);
      if (epochId !== undefined) q = q.where("epoch_id", "=", epochId);
      const rows = await q.orderBy("seq", "desc").limit(limit).execute();
      const j = rows.map((r) => ({
        sketch_id: r.sketch_id,
        epoch_id: r.epoch_id,
        member_id: r.member_id,
        model_id: r.model_id,
        model_version: r.model_version,
        status: r.status,
        reason: r.status_reason,
        status_at: r.status_at === null ? null : new Date(r.status_at).toISOString(),
      }));
      const human =
        j.length === 0
          ? `no ${status === "all" ? "" : `${status} `}sketches`
          : j
              .map(
                (r) =>
                  `${r.sketch_id}\t${r.epoch_id}\t${r.member_id}/${r.model_id}@${r.model_version}\t${r.status}${r.reason === null ? "" : `\t${r.reason}`}`,
              )
              .join("\n");
      emit(inv, j, human);
      return EXIT.ok;
    } catch (err) {
      throw err instanceof CliError ? err : cliErrorFromStore(err, where(inv));
    } finally {
      await store.close();
    }
  },
};

export const hubSketches: Command = {
  name: "sketches",
  summary: "The sketch index: suppress a sketch (logged), list sketches by status.",
  subcommands: [suppress, list],
};
