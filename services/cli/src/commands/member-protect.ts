/**
 * `lineage member protect`: asks the running node to protect a model (register it with a configured
 * endpoint, probe it on the current epoch battery, publish its signed sketch) and shows the node's progress:
 * a progress bar on a terminal, plain lines otherwise (one per phase and per 10% of probes). Killing the
 * command or the node loses nothing: every answered probe is stored, and running it again resumes.
 */
import { ProtectPhase } from "@lineage/api";
import { EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { cliErrorFromNode, nodeClient, nodeFlags, whereOf } from "./member-node-access.js";

const PHASE_NAMES: Readonly<Record<number, string>> = {
  [ProtectPhase.FETCHING_BATTERY]: "fetching battery",
  [ProtectPhase.PROBING]: "probing",
  [ProtectPhase.SKETCHING]: "sketching",
  [ProtectPhase.PUBLISHING]: "publishing",
  [ProtectPhase.DONE]: "done",
};

function isTty(inv: Invocation): boolean {
  return (inv.io.stderr as { isTTY?: boolean }).isTTY === true;
}

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

export const memberProtect: Command = {
  name: "protect",
  summary: "Protect a model: probe it on the epoch battery and publish its signed sketch.",
  options: {
    ...nodeFlags,
    model: {
      type: "string",
      valueName: "id",
      required: true,
      description: "Model id ([A-Za-z0-9._/-], 1..128)",
    },
    version: { type: "string", valueName: "label", description: "Model version label (at most 64 chars)" },
    adapter: {
      type: "string",
      valueName: "name",
      description: "Configured endpoint to probe it through (default main)",
    },
    epoch: { type: "string", valueName: "id", description: "Epoch to probe on (default: the current one)" },
  },
  run: async (inv) => {
    const where = whereOf(inv);
    const { client, config } = await nodeClient(inv);
    const tty = isTty(inv) && !inv.json;
    let lastPct = -1;
    let lastPhase = -1;
    try {
      const epoch = stringOpt(inv, "epoch");
      const stream = client.protect(
        {
          model: {
            memberId: config.memberId,
            modelId: requiredStringOpt(inv, "model"),
            modelVersion: stringOpt(inv, "version") ?? "",
          },
          adapter: stringOpt(inv, "adapter") ?? "main",
          ...(epoch !== undefined ? { epochId: epoch } : {}),
        },
        inv.io.signal,
      );
      let final: { sketchSha256: Uint8Array; probesTotal: number } | undefined;
      for await (const p of stream) {
        const name = PHASE_NAMES[p.phase] ?? "working";
        if (tty) {
          inv.io.stderr.write(
            `\r${bar(p.probesDone, p.probesTotal)} ${p.probesDone}/${p.probesTotal} ${name}   `,
          );
        } else if (!inv.json) {
          const pct = p.probesTotal === 0 ? 0 : Math.floor((p.probesDone * 10) / p.probesTotal);
          if (p.phase !== lastPhase || (p.phase === ProtectPhase.PROBING && pct !== lastPct))
            inv.io.stderr.write(`${name} ${p.probesDone}/${p.probesTotal}\n`);
          lastPct = pct;
        }
        lastPhase = p.phase;
        if (p.phase === ProtectPhase.DONE)
          final = { sketchSha256: p.sketchSha256, probesTotal: p.probesTotal };
      }
      if (tty) inv.io.stderr.write("\n");
      if (final === undefined) throw new Error("the node ended the protect stream without a result");
      const sha = Buffer.from(final.sketchSha256).toString("hex");
      emit(
        inv,
        {
          member_id: config.memberId,
          model_id: requiredStringOpt(inv, "model"),
          probes: final.probesTotal,
          sketch_sha256: sha,
        },
        `protected ${requiredStringOpt(inv, "model")}: ${final.probesTotal} probes, sketch ${sha} published`,
      );
      return EXIT.ok;
    } catch (err) {
      if (tty) inv.io.stderr.write("\n");
      throw cliErrorFromNode(err, where);
    } finally {
      client.close();
    }
  },
};
