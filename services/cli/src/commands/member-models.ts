/**
 * `lineage member models list|withdraw`: the running node's protected models (latest run, published
 * sketch, withdrawn or not), and withdrawing one (the node announces a signed SketchWithdrawal per epoch).
 */
import { EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { cliErrorFromNode, nodeClient, nodeFlags, whereOf } from "./member-node-access.js";

const list: Command = {
  name: "list",
  summary: "List the node's protected models.",
  options: nodeFlags,
  run: async (inv) => {
    const { client } = await nodeClient(inv);
    try {
      const res = await client.listModels();
      const rows = res.models.map((m) => ({
        model_id: m.model?.modelId ?? "",
        version: m.model?.modelVersion ?? "",
        adapter: m.adapter,
        epoch: m.epochId,
        probes_done: m.probesDone,
        probes_total: m.probesTotal,
        sketch_sha256: Buffer.from(m.sketchSha256).toString("hex"),
        withdrawn: m.withdrawn,
      }));
      const human =
        rows.length === 0
          ? "no protected models"
          : rows
              .map(
                (r) =>
                  `${r.model_id}${r.version ? `@${r.version}` : ""}  ${r.adapter}  epoch ${r.epoch || "-"}  ${r.probes_done}/${r.probes_total}  ${r.sketch_sha256 ? `sketch ${r.sketch_sha256.slice(0, 16)}` : "no sketch"}${r.withdrawn ? "  WITHDRAWN" : ""}`,
              )
              .join("\n");
      emit(inv, { models: rows }, human);
      return EXIT.ok;
    } catch (err) {
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

const withdraw: Command = {
  name: "withdraw",
  summary: "Withdraw a model's published sketches (signed withdrawal on NATS).",
  options: {
    ...nodeFlags,
    model: { type: "string", valueName: "id", required: true, description: "Model id" },
    reason: { type: "string", valueName: "text", description: "Why (at most 1024 chars)" },
  },
  run: async (inv) => {
    const { client, config } = await nodeClient(inv);
    try {
      const modelId = requiredStringOpt(inv, "model");
      const res = await client.withdraw({
        model: { memberId: config.memberId, modelId },
        reason: stringOpt(inv, "reason") ?? "",
      });
      emit(
        inv,
        { model_id: modelId, withdrawn_epochs: res.epochIds },
        res.epochIds.length === 0
          ? `${modelId}: no published sketch left to withdraw`
          : `${modelId}: withdrew the sketches of epoch(s) ${res.epochIds.join(", ")}`,
      );
      return EXIT.ok;
    } catch (err) {
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

export const memberModels: Command = {
  name: "models",
  summary: "The node's protected models: list, withdraw.",
  subcommands: [list, withdraw],
};
