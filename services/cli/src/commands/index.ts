/**
 * Every top-level command of the `lineage` CLI, in the order `lineage --help` lists them. Each is lazy (see
 * `Command.load`): its module — and the services and libraries it imports — loads only when argv names it, so
 * `lineage --help` parses a small part of the bundle. The summaries here are the ones `--help` shows; a test
 * checks them against the loaded commands'.
 */
import type { Command } from "../command.js";

const lazy = (name: string, summary: string, load: () => Promise<Command>): Command => ({
  name,
  summary,
  load,
});

export const commands: Command[] = [
  lazy(
    "demo",
    "Run the alliance on the real services in one process: a hub, three member nodes, an auditor.",
    async () => (await import("./demo.js")).demo,
  ),
  lazy(
    "member",
    "Run and manage a member node (fingerprints, canaries, keys stay here).",
    async () => (await import("./member.js")).member,
  ),
  lazy(
    "hub",
    "Run and manage the secretariat's hub (index, scanner, sessions, log, cases).",
    async () => (await import("./hub.js")).hub,
  ),
  lazy(
    "witness",
    "Run a witness that cosigns the hub's checkpoints it verified as consistent (C2SP tlog-witness).",
    async () => (await import("./witness.js")).witness,
  ),
  lazy(
    "audit",
    "Verify attestations, the whole log, its consistency and disclosures, trusting no one.",
    async () => (await import("./audit.js")).audit,
  ),
  lazy(
    "compare",
    "Compare a suspect model with a reference model against a panel of unrelated models.",
    async () => (await import("./compare.js")).compareCommand,
  ),
  lazy(
    "fingerprint",
    "Probe a model on a battery; save its private fingerprint (and its sketch, given an epoch key).",
    async () => (await import("./fingerprint.js")).fingerprintCommand,
  ),
  lazy(
    "testbed",
    "Small language models with known lineage, for trying and benchmarking the engine.",
    async () => (await import("./testbed.js")).testbed,
  ),
];
