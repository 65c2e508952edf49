/**
 * `lineage member watermark keygen|commit`: the member's watermark keys (README "Canary pairs"; issue 9).
 * `keygen` writes a fresh 32-byte key as hex to a file (0600, never overwritten: the member's model serving
 * watermarks with it) and has the running node import it from that file — the key never crosses the wire and
 * is never printed. `commit` logs the key's commitment through the hub; sessions use a key only once it is
 * committed, and only for suspects first seen after that.
 */
import { randomBytes } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { CliError, EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { emit, numberOpt, requiredStringOpt, writableFileOpt } from "../option-values.js";
import { writePrivateAtomically } from "./member-canaries.js";
import { cliErrorFromNode, nodeClient, nodeFlags, whereOf } from "./member-node-access.js";

const idFlag = {
  type: "string",
  valueName: "id",
  required: true,
  description: "Commitment id (1..64 chars, unique per member)",
} as const;

const keygen: Command = {
  name: "keygen",
  summary: "Make a watermark key (file, 0600) and store it in the running node (not yet committed).",
  options: {
    ...nodeFlags,
    id: idFlag,
    out: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Key file to create (hex, 0600; never overwritten) for the model's serving stack",
    },
    gamma: {
      type: "string",
      valueName: "g",
      description: "Green-list fraction the model is watermarked with, in (0, 1)",
      default: "0.25",
    },
  },
  run: async (inv) => {
    const id = requiredStringOpt(inv, "id");
    const gamma = numberOpt(inv, "gamma", { min: 0, max: 1 }, 0.25) as number;
    if (!(gamma > 0 && gamma < 1))
      throw new CliError("invalid_argument", `${whereOf(inv)}: --gamma must be strictly between 0 and 1`);
    const out = (await writableFileOpt(inv, "out")) as string;
    if (
      await stat(out).then(
        () => true,
        () => false,
      )
    )
      throw new CliError(
        "invalid_argument",
        `${whereOf(inv)}: --out ${out} exists; a key file is never overwritten`,
      );
    await writePrivateAtomically(out, `${randomBytes(32).toString("hex")}\n`);
    const { client } = await nodeClient(inv);
    try {
      const res = await client.importWatermarkKey({ keyPath: out, commitmentId: id, gamma });
      const digest = Buffer.from(res.keyDigest).toString("hex");
      emit(
        inv,
        { commitment_id: id, key_file: out, key_digest: digest, gamma: res.gamma },
        `${id}: key in ${out} (0600), stored by the node (digest ${digest.slice(0, 16)}…); commit it with 'lineage member watermark commit --id ${id}' before use`,
      );
      return EXIT.ok;
    } catch (err) {
      // The node did not store it: a key file no commitment will ever name is not left behind.
      await rm(out, { force: true });
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

const commit: Command = {
  name: "commit",
  summary: "Log a stored watermark key's commitment through the hub (before any session uses it).",
  options: { ...nodeFlags, id: idFlag },
  run: async (inv) => {
    const id = requiredStringOpt(inv, "id");
    const { client } = await nodeClient(inv);
    try {
      const res = await client.commitWatermarkKey({ commitmentId: id });
      const index = res.commitment?.logIndex ?? 0n;
      const digest = Buffer.from(res.commitment?.keyDigest ?? []).toString("hex");
      emit(
        inv,
        { commitment_id: id, key_digest: digest, log_index: Number(index) },
        `${id}: committed at log index ${index} (digest ${digest.slice(0, 16)}…); sessions on suspects first seen after it may use it`,
      );
      return EXIT.ok;
    } catch (err) {
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

export const memberWatermark: Command = {
  name: "watermark",
  summary: "The node's watermark keys: keygen (file + node), commit (through the hub).",
  subcommands: [keygen, commit],
};
