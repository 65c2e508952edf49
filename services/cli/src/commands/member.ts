/** The `lineage member` group: the member node's commands. */
import type { Command } from "../command.js";
import { memberKeygen, memberPubkey } from "./keygen.js";
import { memberCanaries } from "./member-canaries.js";
import { memberDisclose } from "./member-disclose.js";
import { memberEnrolRequest } from "./member-enrol-request.js";
import { memberInit } from "./member-init.js";
import { memberModels } from "./member-models.js";
import { memberProtect } from "./member-protect.js";
import { memberServe } from "./member-serve.js";
import { memberWatch } from "./member-watch.js";
import { memberWatermark } from "./member-watermark.js";
import { memberMigrate } from "./migrate.js";

export const member: Command = {
  name: "member",
  summary: "Run and manage a member node (fingerprints, canaries, keys stay here).",
  subcommands: [
    memberInit,
    memberServe,
    memberProtect,
    memberModels,
    memberCanaries,
    memberDisclose,
    memberWatermark,
    memberKeygen,
    memberPubkey,
    memberMigrate,
    memberEnrolRequest,
    memberWatch,
  ],
};
