/**
 * `lineage member canaries import|generate|exposure`: the member's canary PAIRS (README "Canary pairs";
 * docs/specs/canary-commitment.md). `import` checks the file here (an empty or one-line file is refused with
 * its name before the node is asked), then the running node imports it, logs its commitment through the hub
 * and learns the pair labels from the log. `generate` writes fresh pairs in the import format (mode 0600: the
 * file holds secrets). `exposure` prints counts only.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { canaryPairsToJsonl, generateCanaryPairs, readCanaryPairsFile } from "@lineage/member-node";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, intOpt, requiredStringOpt, stringListOpt, writableFileOpt } from "../option-values.js";
import { cliErrorFromNode, nodeClient, nodeFlags, whereOf } from "./member-node-access.js";

/**
 * Writes `data` to `path` all at once, mode 0600: a temporary file in the same folder, fsynced, then renamed
 * over `path`, so a reader never sees half a file.
 */
export async function writePrivateAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function checkedPairs(inv: Invocation, file: string) {
  try {
    return await readCanaryPairsFile(file);
  } catch (err) {
    throw new CliError("invalid_argument", `${whereOf(inv)}: ${(err as Error).message}`, { cause: err });
  }
}

const importCommand: Command = {
  name: "import",
  summary:
    "Import a canary-pair file into the running node, log its commitment through the hub, learn the labels.",
  positionals: [
    { name: "FILE", description: "JSONL, one pair per line (see README, Canary pairs)", required: true },
  ],
  options: {
    ...nodeFlags,
    id: {
      type: "string",
      valueName: "id",
      required: true,
      description: "Commitment id (1..64 chars, unique per member)",
    },
  },
  run: async (inv) => {
    const file = resolve(inv.io.cwd, inv.positionals[0] as string);
    const id = requiredStringOpt(inv, "id");
    const pairs = await checkedPairs(inv, file);
    const { client } = await nodeClient(inv);
    try {
      const res = await client.importCanarySet({ sourcePath: file, commitmentId: id });
      const root = Buffer.from(res.commitment?.merkleRoot ?? []).toString("hex");
      const index = res.commitment?.logIndex ?? 0n;
      emit(
        inv,
        { commitment_id: id, pairs: Number(res.canaryCount), merkle_root: root, log_index: Number(index) },
        `${id}: ${pairs.length} pairs committed (root ${root.slice(0, 16)}…) at log index ${index}; the log decides which item of each pair is exposed`,
      );
      return EXIT.ok;
    } catch (err) {
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

const generate: Command = {
  name: "generate",
  summary: "Write fresh canary pairs (two items per pair from one template) in the import format.",
  options: {
    count: { type: "string", valueName: "n", default: "64", description: "Pairs to generate (2..100000)" },
    out: { type: "string", valueName: "file", required: true, description: "Output JSONL (written 0600)" },
  },
  run: async (inv) => {
    const count = intOpt(inv, "count", { min: 2, max: 100_000 }, 64) as number;
    const out = (await writableFileOpt(inv, "out")) as string;
    const pairs = generateCanaryPairs(count);
    await writePrivateAtomically(out, canaryPairsToJsonl(pairs));
    emit(
      inv,
      { out, pairs: count },
      `${count} canary pairs written to ${out} (keep it private; import it with 'lineage member canaries import')`,
    );
    return EXIT.ok;
  },
};

const exposure: Command = {
  name: "exposure",
  summary: "How many of each canary set's items have been sent to suspects (counts only).",
  options: {
    ...nodeFlags,
    id: {
      type: "string",
      valueName: "id",
      multiple: true,
      description: "Commitment id (repeatable; default: all)",
    },
  },
  run: async (inv) => {
    const { client } = await nodeClient(inv);
    try {
      const res = await client.canaryExposure({ commitmentIds: stringListOpt(inv, "id") });
      const rows = res.exposures.map((e) => ({
        commitment_id: e.commitment?.commitmentId ?? "",
        log_index: e.commitment === undefined ? null : Number(e.commitment.logIndex),
        total: Number(e.total),
        spent: Number(e.spent),
        remaining: Number(e.remaining),
        recent: e.recentEvents.map((x) => ({
          session_id: x.sessionId,
          suspect_id: x.suspectId,
          sent: x.canariesSent,
        })),
      }));
      emit(
        inv,
        { exposures: rows },
        rows.length === 0
          ? "no canary sets"
          : rows
              .map(
                (r) =>
                  `${r.commitment_id || "(not committed)"}  ${r.spent}/${r.total} items spent, ${r.remaining} left`,
              )
              .join("\n"),
      );
      return EXIT.ok;
    } catch (err) {
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

export const memberCanaries: Command = {
  name: "canaries",
  summary: "The node's canary pairs: import (commit through the hub), generate, exposure.",
  subcommands: [importCommand, generate, exposure],
};
