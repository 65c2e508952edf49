/**
 * `lineage member serve`: runs the member node from its config (see `lineage member init`) until SIGINT or
 * SIGTERM, then shuts down cleanly (gRPC drained, epoch watcher stopped, bus flushed, database closed).
 * Log lines (JSON, safe fields only) go to stderr.
 */
import { resolve } from "node:path";
import { fileBatterySource, jsonLineLogger, startMemberNode } from "@lineage/member-node";
import { CliError, EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { emit, intOpt, stringOpt } from "../option-values.js";
import { startupTrace } from "../startup-trace.js";
import { cliErrorFromNode, configFlag, configOf, whereOf } from "./member-node-access.js";

export const memberServe: Command = {
  name: "serve",
  summary: "Run the member node (gRPC MemberNode, sketch publishing) until interrupted.",
  description:
    "Plaintext gRPC is allowed only on a loopback address; off loopback configure mutual TLS (tls.cert_file,\n" +
    "tls.key_file, tls.client_ca_file). --battery/--epoch-key override the config's battery files.",
  options: {
    ...configFlag,
    listen: { type: "string", valueName: "host:port", description: "Override the config's listen address" },
    battery: {
      type: "string",
      valueName: "file",
      description: "Epoch battery file (overrides battery.file)",
    },
    "epoch-key": {
      type: "string",
      valueName: "file",
      description: "Epoch key file (overrides battery.epoch_key_file)",
    },
    "epoch-poll": {
      type: "string",
      valueName: "seconds",
      description: "How often to check for a new epoch (default 60; 0 = never)",
    },
  },
  run: async (inv) => {
    const mark = startupTrace(inv.io);
    mark("command");
    const where = whereOf(inv);
    let config = await configOf(inv);
    const listen = stringOpt(inv, "listen");
    const battery = stringOpt(inv, "battery");
    const epochKey = stringOpt(inv, "epoch-key");
    if (listen !== undefined) config = { ...config, listen };
    if (battery !== undefined || epochKey !== undefined) {
      const file = battery !== undefined ? resolve(inv.io.cwd, battery) : config.battery.file;
      const keyFile = epochKey !== undefined ? resolve(inv.io.cwd, epochKey) : config.battery.epochKeyFile;
      if (file === undefined || keyFile === undefined)
        throw new CliError(
          "usage",
          `${where}: --battery needs an epoch key (--epoch-key or battery.epoch_key_file) and vice versa`,
        );
      config = { ...config, battery: { file, epochKeyFile: keyFile } };
    }
    const pollS = intOpt(inv, "epoch-poll", { min: 0, max: 86_400 }, 60) ?? 60;
    mark("config");
    let node: Awaited<ReturnType<typeof startMemberNode>>;
    try {
      node = await startMemberNode({
        config,
        env: inv.io.env,
        logger: jsonLineLogger((l) => inv.io.stderr.write(l)),
        epochPollMs: pollS * 1000,
        onPhase: mark,
        ...(config.battery.file !== undefined && config.battery.epochKeyFile !== undefined
          ? { batteries: fileBatterySource(config.battery.file, config.battery.epochKeyFile) }
          : {}),
      });
    } catch (err) {
      throw cliErrorFromNode(err, where);
    }
    try {
      emit(
        inv,
        {
          member_id: config.memberId,
          address: node.address,
          key_id: node.deps.signingKey.keyId,
          database: config.database.kind,
          bus: node.deps.bus.kind,
        },
        `member node ${config.memberId} serving at ${node.address} (${config.database.kind}, ${node.deps.bus.kind} bus)\n(Ctrl-C to stop)`,
      );
      await new Promise<void>((done) => {
        if (!inv.io.signal) return;
        if (inv.io.signal.aborted) done();
        inv.io.signal.addEventListener("abort", () => done(), { once: true });
      });
    } finally {
      await node.close();
    }
    inv.io.stderr.write("member node stopped\n");
    return EXIT.ok;
  },
};
