/**
 * `lineage audit ...`: the auditor's commands (issue 4; @lineage/auditor does the checking). They
 * trust only the hub verifier key given with --log-key; member keys come from the log itself.
 * Exit codes: 0 verified, 1 failed verification, 2 usage, 3 could not check.
 */
import { writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { Hub } from "@lineage/api";
import {
  type AuditCheck,
  AuditError,
  type AuditErrorCode,
  AuditorState,
  auditConsistency,
  auditLog,
  bundleToJson,
  checkAgainstSaved,
  exitCodeFor,
  hubCheckpointSource,
  hubEntrySource,
  hubEntryStream,
  type LogWalkReport,
  type MemberHistory,
  openHubCheckpoint,
  readBundleFile,
  readDisclosurePackage,
  readMemberHistory,
  readSealedDisclosurePackage,
  type TrustRoot,
  trustFromBundle,
  trustRootFromVerifierKey,
  trustWithRotations,
  verificationReport,
  verificationText,
  verifyBundle,
  verifyDisclosure,
  withWitnesses,
} from "@lineage/auditor";
import { toHex } from "@lineage/crypto";
import { HttpAdapter } from "@lineage/fingerprint";
import { createClient, RpcError } from "@lineage/rpc";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { emit, intOpt, stringListOpt, stringOpt } from "../option-values.js";
import { clientCertFlags, clientCredentials } from "./client-tls.js";
import { auditDisclosureKey } from "./member-disclose.js";

const trustFlags: Record<string, OptionSpec> = {
  "log-key": {
    type: "string",
    valueName: "vkey",
    description:
      "The hub's C2SP verifier key (name+hex8+base64), the only key trusted; default $LINEAGE_HUB_VERIFIER_KEY.",
  },
  origin: {
    type: "string",
    valueName: "origin",
    description: "Expected log origin (first checkpoint line).",
  },
  "witness-key": {
    type: "string",
    multiple: true,
    valueName: "vkey",
    description:
      "A witness's cosignature/v1 verifier key (as 'lineage witness pubkey' prints); default $LINEAGE_WITNESS_KEYS (space-separated).",
  },
};

const hubFlags: Record<string, OptionSpec> = {
  hub: { type: "string", valueName: "host:port", description: "The hub's gRPC address." },
  "tls-ca": {
    type: "string",
    valueName: "file",
    description: "PEM CA the hub's certificate must chain to (without it the connection is plaintext).",
  },
  ...clientCertFlags,
  "timeout-ms": { type: "string", valueName: "ms", description: "Per-call timeout.", default: "10000" },
};

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

/**
 * The hub's trust root from --log-key (or $LINEAGE_HUB_VERIFIER_KEY) and --origin when the command has it;
 * shared by every command that reads the hub's log, so they refuse a bad key with the same message.
 */
export function trustOf(inv: Invocation): TrustRoot {
  const vkey = stringOpt(inv, "log-key") ?? inv.io.env.LINEAGE_HUB_VERIFIER_KEY;
  if (vkey === undefined || vkey === "") {
    throw new CliError(
      "usage",
      `${where(inv)}: give the hub verifier key with --log-key (see '${where(inv)} --help')`,
    );
  }
  let trust: TrustRoot;
  try {
    trust = trustRootFromVerifierKey(vkey, stringOpt(inv, "origin"));
  } catch (err) {
    throw new CliError("invalid_argument", `${where(inv)}: --log-key: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const flagged = inv.options["witness-key"] === undefined ? [] : stringListOpt(inv, "witness-key");
  const witnessKeys =
    flagged.length > 0
      ? flagged
      : (inv.io.env.LINEAGE_WITNESS_KEYS ?? "").split(/\s+/).filter((k) => k !== "");
  try {
    return withWitnesses(trust, witnessKeys);
  } catch (err) {
    throw new CliError("invalid_argument", `${where(inv)}: --witness-key: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const stateFlag: Record<string, OptionSpec> = {
  state: {
    type: "string",
    valueName: "dir",
    description:
      "Where the last verified checkpoint is kept (default $LINEAGE_AUDITOR_STATE or ~/.lineage/auditor).",
  },
};

function stateOf(inv: Invocation): AuditorState {
  const dir =
    stringOpt(inv, "state") ?? inv.io.env.LINEAGE_AUDITOR_STATE ?? join(homedir(), ".lineage", "auditor");
  try {
    return new AuditorState(resolve(inv.io.cwd, dir));
  } catch (err) {
    throw new CliError("invalid_argument", `${where(inv)}: --state: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * gRPC credentials for the hub: TLS to the --tls-ca roots when given (mutual TLS with --tls-cert/--tls-key
 * or $LINEAGE_TLS_CERT/$LINEAGE_TLS_KEY), plaintext otherwise (client-tls.ts).
 */
export async function credentialsOf(inv: Invocation): Promise<ChannelCredentials> {
  return clientCredentials(inv);
}

/** The --hub address, checked to be host:port before anything connects. */
export function hubAddress(inv: Invocation, required: true): string;
export function hubAddress(inv: Invocation, required: false): string | undefined;
export function hubAddress(inv: Invocation, required: boolean): string | undefined {
  const hub = stringOpt(inv, "hub");
  if (hub === undefined) {
    if (required) throw new CliError("usage", `${where(inv)}: missing required option --hub`);
    return undefined;
  }
  if (!/^[A-Za-z0-9.[\]:_-]{1,255}:[0-9]{1,5}$/.test(hub)) {
    throw new CliError(
      "invalid_argument",
      `${where(inv)}: --hub must be host:port, got '${hub.slice(0, 80)}'`,
    );
  }
  return hub;
}

function renderChecks(checks: readonly AuditCheck[]): string {
  return checks
    .map((c) =>
      c.passed
        ? `  ok    ${c.name}${c.detail === undefined ? "" : `  (${c.detail})`}`
        : `  FAIL  ${c.name}  [${c.code}] ${c.detail ?? ""}`,
    )
    .join("\n");
}

/** Reports an audit failure (failed verification or could not check) and returns its exit code. */
function reportFailure(inv: Invocation, err: unknown): number {
  if (err instanceof CliError) throw err;
  const e =
    err instanceof AuditError
      ? err
      : new AuditError("internal", `unexpected failure: ${(err as Error)?.message}`, { cause: err });
  const exit = exitCodeFor(e.code);
  if (exit === EXIT.usage)
    throw new CliError("invalid_argument", `${where(inv)}: ${e.message}`, { cause: e });
  const headline =
    exit === EXIT.unavailable
      ? `COULD NOT CHECK [${e.code}]: ${e.message}`
      : `FAILED VERIFICATION [${e.code}]: ${e.message}`;
  const loud =
    e.code === "split_view" || e.code === "rollback" || e.code === "inconsistent_with_saved"
      ? `\n!!! THE HUB SIGNED CONTRADICTORY CHECKPOINTS (${e.code.toUpperCase()}): its history was forked or rewritten. !!!`
      : "";
  emit(
    inv,
    {
      verified: false,
      outcome: exit === EXIT.unavailable ? "could_not_check" : "failed",
      code: e.code,
      message: e.message,
      checks: e.checks,
    },
    `${renderChecks(e.checks)}${e.checks.length > 0 ? "\n" : ""}${headline}${loud}`,
  );
  if (!inv.json && loud !== "") inv.io.stderr.write(`${loud.trim()}\n`);
  return exit;
}

/** The suspect as the engine reaches it (bounded, validated, retried on transient failures). */
function suspectAdapter(
  inv: Invocation,
  baseUrl: string,
  model: string,
  apiKey: string | undefined,
  timeoutMs: number,
): HttpAdapter {
  try {
    return new HttpAdapter({
      baseUrl,
      model,
      timeoutMs: Math.max(timeoutMs, 30_000),
      ...(apiKey ? { apiKey } : {}),
    });
  } catch (err) {
    throw new CliError("invalid_argument", `${where(inv)}: --suspect: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const witnessFlags: Record<string, OptionSpec> = {
  witnesses: {
    type: "string",
    valueName: "n",
    description:
      "How many distinct trusted witnesses must have cosigned (default 1 with any --witness-key, else 0).",
  },
  "no-witness-check": {
    type: "boolean",
    description:
      "Accept a checkpoint no witness vouched for (reported loudly; a single hub can then show you a forked log).",
  },
};

/**
 * The witness quorum from --witnesses / --no-witness-check and the trust root's witness keys, and the waiver
 * printed (to stderr, loudly) when none is required.
 */
function witnessQuorumOf(
  inv: Invocation,
  trust: TrustRoot,
): { witnessQuorum: number; noWitness: boolean; waiver: string } {
  const known = trust.witnesses?.length ?? 0;
  const noWitness = inv.options["no-witness-check"] === true;
  const asked = intOpt(inv, "witnesses", { min: 0, max: 16 });
  if (noWitness && asked !== undefined && asked > 0)
    throw new CliError("usage", `${where(inv)}: give --witnesses or --no-witness-check, not both`);
  if (asked !== undefined && asked > known) {
    throw new CliError(
      "usage",
      `${where(inv)}: --witnesses ${asked} needs at least ${asked} --witness-key (${known} given)`,
    );
  }
  const witnessQuorum = noWitness ? 0 : (asked ?? (known > 0 ? 1 : 0));
  const waiver =
    witnessQuorum > 0
      ? ""
      : noWitness
        ? "WITNESS CHECK WAIVED (--no-witness-check): no independent party vouched for this checkpoint; the hub alone could show you a forked log"
        : "NO WITNESS REQUIRED: the trust root lists no witness key (give --witness-key); the hub alone could show you a forked log";
  if (waiver !== "") inv.io.stderr.write(`!!! ${waiver} !!!\n`);
  return { witnessQuorum, noWitness, waiver };
}

const verify: Command = {
  name: "verify",
  summary:
    "Verify an attestation bundle: signatures, inclusion, key validity, the session's bound choices, and the verdict re-derived from its counts.",
  positionals: [
    {
      name: "BUNDLE",
      description: "Bundle file (protobuf JSON or binary AttestationBundle).",
      required: true,
    },
  ],
  description:
    "A key is judged by log position: valid for the attestation iff added before it and not revoked before it,\n" +
    "and the member not suspended before it. With --hub, every membership record of the log up to the\n" +
    "bundle's checkpoint is read (GetLogEntries, bounded pages) and proven against that checkpoint's root, so\n" +
    "a revocation or suspension the bundle leaves out is still seen. Without --hub the bundle's own records\n" +
    "are all there is: that check is 'not checked offline' and the command exits 1 [history_unchecked]\n" +
    "unless --offline is given to accept it (then it exits 0 and says so).\n" +
    "Witnesses: the checkpoint must carry cosignatures by --witnesses N distinct witnesses of the trust root\n" +
    "(--witness-key; N defaults to 1 when any is given) [witness_quorum]; a forged one fails [bad_cosignature].\n" +
    "--no-witness-check waives that, loudly. The checkpoint is also checked against the one this auditor saved\n" +
    "(--state; a proof from --hub between different sizes) [inconsistent_with_saved], and a newer one is saved.",
  options: {
    ...trustFlags,
    ...hubFlags,
    ...stateFlag,
    ...witnessFlags,
    offline: {
      type: "boolean",
      description:
        "Verify without a hub, accepting that revocations or suspensions omitted from the bundle cannot be excluded.",
    },
  },
  run: async (inv) => {
    const trust = trustOf(inv);
    const address = hubAddress(inv, false);
    const offline = inv.options.offline === true;
    if (address !== undefined && offline) {
      throw new CliError("usage", `${where(inv)}: give --hub or --offline, not both`);
    }
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
    const { witnessQuorum, noWitness, waiver } = witnessQuorumOf(inv, trust);
    const state = stateOf(inv);
    const credentials = address === undefined ? undefined : await credentialsOf(inv);
    try {
      const bundle = await readBundleFile(resolve(inv.io.cwd, inv.positionals[0] as string));
      let history: MemberHistory | undefined;
      if (address !== undefined && credentials !== undefined) {
        // The bundle's checkpoint is opened (hub-signed) before anything is read against it.
        // A root rotation the bundle carries (or this auditor saved) opens a checkpoint of a later root.
        const cp = openHubCheckpoint(
          bundle.checkpoint?.signedNote ?? new Uint8Array(0),
          trustFromBundle(bundle, await state.withSavedRoots(trust)),
        );
        using source = hubEntrySource(address, credentials, timeoutMs);
        history = await readMemberHistory(source, cp);
      }
      const verified = verifyBundle(bundle, trust, {
        witnessQuorum,
        ...(history === undefined ? {} : { history }),
      });
      let savedCheck: Awaited<ReturnType<typeof checkAgainstSaved>>;
      {
        using proofs =
          address === undefined || credentials === undefined
            ? undefined
            : hubCheckpointSource(address, credentials, timeoutMs);
        try {
          const current = trustWithRotations(trust, verified.hubKeys);
          savedCheck = await checkAgainstSaved(state, current, bundle.checkpoint?.signedNote ?? "", proofs);
          await state.saveRoots(current);
        } catch (err) {
          if (err instanceof AuditError) {
            throw new AuditError(err.code, err.message, {
              checks: [...verified.checks, ...err.checks],
              cause: err,
            });
          }
          throw err;
        }
      }
      const r = { ...verified, checks: [...verified.checks, ...savedCheck.checks] };
      const base = `${renderChecks(r.checks)}${waiver === "" ? "" : `\n${waiver}`}\nVERIFIED: attestation ${r.attestationIndex} (session ${r.statement.sessionId}) signed by member ${r.memberKey.memberId}, in checkpoint ${r.checkpoint.origin} size ${r.checkpoint.size}; its verdict re-derived from its own counts\n${verificationText(r)}`;
      if (!r.historyChecked && !offline) {
        const message =
          "the member's key history was not read from the log: a revocation or suspension omitted from the bundle cannot be excluded; re-run with --hub ADDR, or pass --offline to accept this";
        emit(
          inv,
          {
            verified: false,
            outcome: "history_unchecked",
            code: "history_unchecked",
            message,
            ...verificationReport(r),
            checks: r.checks,
          },
          `${renderChecks(r.checks)}\nNOT VERIFIED [history_unchecked]: ${message}`,
        );
        return exitCodeFor("history_unchecked");
      }
      emit(
        inv,
        {
          verified: true,
          outcome: "verified",
          history_checked: r.historyChecked,
          witnesses: { required: witnessQuorum, cosigners: r.witnesses.cosigners, waived: noWitness },
          saved_state: savedCheck.outcome,
          ...verificationReport(r),
          checks: r.checks,
        },
        r.historyChecked
          ? base
          : `${base}\nNOT CHECKED OFFLINE: revocations or suspensions omitted from the bundle cannot be excluded (--offline)`,
      );
      return EXIT.ok;
    } catch (err) {
      return reportFailure(inv, err);
    }
  },
};

const consistency: Command = {
  name: "consistency",
  summary: "Check the hub's latest checkpoint extends the last one this auditor saw (detects split views).",
  options: {
    ...trustFlags,
    ...hubFlags,
    ...stateFlag,
  },
  run: async (inv) => {
    const trust = trustOf(inv);
    const address = hubAddress(inv, true);
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
    const state = stateOf(inv);
    const credentials = await credentialsOf(inv);
    try {
      using source = hubCheckpointSource(address, credentials, timeoutMs);
      const r = await auditConsistency(source, await state.withSavedRoots(trust), state);
      const from = r.previous === undefined ? "first contact" : `size ${r.previous.size}`;
      emit(
        inv,
        {
          verified: true,
          outcome: "verified",
          previous_size: r.previous?.size ?? null,
          size: r.current.size,
          root: toHex(r.current.rootHash),
          checks: r.checks,
        },
        `${renderChecks(r.checks)}\nVERIFIED: ${r.current.origin} ${from} -> size ${r.current.size} is consistent`,
      );
      return EXIT.ok;
    } catch (err) {
      return reportFailure(inv, err);
    }
  },
};

/** The human summary of a walk over the whole log. */
function walkText(r: LogWalkReport): string {
  const kinds = Object.entries(r.entries)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  const v = r.attestations.byVerdict;
  const lines = [
    `log ${r.origin} size ${r.size}, root ${r.rootHash}`,
    `  entries: ${kinds === "" ? "none" : kinds}`,
    `  members: ${r.members.members} (${r.members.keys} keys, ${r.members.revokedKeys} revoked, ${r.members.statusChanges} status changes)`,
    `  hub keys: ${r.hubKeys.statements} statements (${r.hubKeys.delegations} delegations, ${r.hubKeys.rootRotations} root rotations)`,
    `  epochs: ${r.epochs.length} (${r.epochs.map((e) => e.epochId).join(", ")}); ${r.suppressions} sketch suppression(s)`,
    `  commitments: ${r.commitments.canaryPairs} canary pairs, ${r.commitments.watermarkKeys} watermark keys, ${r.commitments.referenceFingerprints} reference fingerprints; ${r.sightings} sightings, ${r.sessions} sessions, ${r.reviewDecisions} review decisions (withdrawals counted, not checked)`,
    `  attestations: ${r.attestations.total} (${r.attestations.verified} verified: ${v.LIKELY_DERIVED} LIKELY_DERIVED, ${v.SIMILAR} SIMILAR, ${v.INCONCLUSIVE} INCONCLUSIVE; ${r.attestations.failed} failed)`,
    `  witnesses: ${r.witnesses.cosigners.length} trusted cosignature(s), ${r.witnesses.required} required`,
    `  saved state: ${r.saved}`,
    ...r.failures.map(
      (f) =>
        `  FAIL  entry ${f.index ?? "-"} (${f.kind}) [${f.code}]${f.check === undefined ? "" : ` ${f.check}`}: ${f.message}`,
    ),
    ...(r.failuresOmitted > 0 ? [`  ... and ${r.failuresOmitted} more failures, not listed`] : []),
  ];
  if (r.fatal !== undefined) {
    lines.push(
      `STOPPED [${r.fatal.code}] (${r.fatal.kind}${r.fatal.index === undefined ? "" : ` at ${r.fatal.index} entries`}): ${r.fatal.message}`,
      "Nothing read under this checkpoint can be trusted.",
    );
  } else if (r.failures.length + r.failuresOmitted > 0) {
    lines.push(
      `FAILED VERIFICATION: ${r.failures.length + r.failuresOmitted} of ${r.size} entries failed; the tree and checkpoint verified`,
    );
  } else {
    lines.push(
      `VERIFIED: all ${r.size} entries of ${r.origin} re-hashed into the signed checkpoint's tree and checked; every attestation's verdict re-derived from its own counts`,
    );
  }
  return lines.join("\n");
}

const logWalk: Command = {
  name: "log",
  summary:
    "Walk the hub's whole log: every entry re-hashed into the signed checkpoint, hub keys, memberships, epochs, commitments, sessions, and every attestation re-derived.",
  description:
    "Reads every entry of the hub's latest checkpoint (GetLogEntries, streamed; nothing is taken on the hub's\n" +
    "word), hashes it into the auditor's own tree and checks it in log order with the checks 'audit verify'\n" +
    "makes on a bundle, the entries an attestation rests on taken from the log itself. The tree must end at the\n" +
    "root of the checkpoint, signed by the trusted root (or a root the log rotated to) and cosigned by the\n" +
    "witness quorum; with --state it must pass through the checkpoint saved earlier, and the new one is saved.\n" +
    "A failing entry is listed with its index and code and the walk goes on; a tree or checkpoint failure\n" +
    "stops it. Exit 0 everything verified, 1 any failure, 3 the hub could not be read.",
  options: {
    ...trustFlags,
    ...hubFlags,
    ...stateFlag,
    ...witnessFlags,
  },
  run: async (inv) => {
    const trust = trustOf(inv);
    const address = hubAddress(inv, true);
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
    const { witnessQuorum } = witnessQuorumOf(inv, trust);
    const state = stateOf(inv);
    const credentials = await credentialsOf(inv);
    let r: LogWalkReport;
    try {
      using checkpoints = hubCheckpointSource(address, credentials, timeoutMs);
      using entries = hubEntryStream(address, credentials, Math.max(timeoutMs, 30_000));
      r = await auditLog(checkpoints, entries, trust, { state, witnessQuorum });
    } catch (err) {
      return reportFailure(inv, err);
    }
    const ok = r.fatal === undefined && r.failures.length + r.failuresOmitted === 0;
    emit(
      inv,
      { verified: ok, outcome: ok ? "verified" : r.fatal === undefined ? "failed" : "stopped", ...r },
      walkText(r),
    );
    return ok ? EXIT.ok : exitCodeFor(r.fatal?.code ?? (r.failures[0]?.code as AuditErrorCode));
  },
};

const disclosure: Command = {
  name: "disclosure",
  summary:
    "Check a member's canary-pair disclosure: protocol sample size, log-derived sample and labels, Merkle proofs, and whether the paired counts reproduce (live only; recorded answers exit 1).",
  positionals: [
    {
      name: "PACKAGE",
      description: "Disclosure package (protobuf JSON or binary VerifyDisclosureRequest).",
      required: true,
    },
  ],
  options: {
    ...trustFlags,
    ...hubFlags,
    suspect: {
      type: "string",
      valueName: "url",
      description:
        "OpenAI-compatible base URL of the suspect (e.g. https://host/v1) to re-query through the engine's HTTP adapter; key from $LINEAGE_SUSPECT_API_KEY.",
    },
    model: {
      type: "string",
      valueName: "name",
      description: "Model name to ask the suspect for (with --suspect).",
    },
    key: {
      type: "string",
      valueName: "file",
      description:
        "Auditor private key file: open a package sealed by 'lineage member disclose' (see 'audit disclosure-key').",
    },
  },
  run: async (inv) => {
    const trust = trustOf(inv);
    const suspect = stringOpt(inv, "suspect");
    const model = stringOpt(inv, "model");
    if (suspect !== undefined && model === undefined) {
      throw new CliError("usage", `${where(inv)}: --suspect needs --model`);
    }
    const address = hubAddress(inv, false);
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
    const credentials = address === undefined ? undefined : await credentialsOf(inv);
    try {
      const pkgPath = resolve(inv.io.cwd, inv.positionals[0] as string);
      const keyFile = stringOpt(inv, "key");
      const pkg =
        keyFile === undefined
          ? await readDisclosurePackage(pkgPath)
          : await readSealedDisclosurePackage(pkgPath, resolve(inv.io.cwd, keyFile));
      if (pkg.bundle === undefined || pkg.disclosure === undefined) {
        throw new AuditError("malformed", "the package needs a bundle and a disclosure");
      }
      using hub =
        address === undefined || credentials === undefined
          ? undefined
          : hubCheckpointSource(address, credentials, timeoutMs);
      const apiKey = inv.io.env.LINEAGE_SUSPECT_API_KEY;
      const adapter =
        suspect === undefined || model === undefined
          ? undefined
          : suspectAdapter(inv, suspect, model, apiKey, timeoutMs);
      const r = await verifyDisclosure(pkg.bundle, pkg.disclosure, pkg.responses, trust, {
        ...(hub === undefined ? {} : { hub }),
        ...(adapter === undefined ? {} : { suspect: adapter }),
        ...(inv.io.signal === undefined ? {} : { signal: inv.io.signal }),
      });
      const data = {
        attestation_index: r.attestationIndex,
        sample_size: r.sampleSize,
        sample: {
          exposed_only: r.sample.exposedOnly,
          decoy_only: r.sample.decoyOnly,
          both_hit: r.sample.bothHit,
          neither: r.sample.neither,
        },
        claim: r.claim,
        exposed_only_needed: r.exposedOnlyNeeded,
        decoy_only_allowed: r.decoyOnlyAllowed,
        answers: r.answers,
        checks: r.checks,
      };
      const seen = `${r.sample.exposedOnly} exposed-only and ${r.sample.decoyOnly} decoy-only of ${r.sampleSize} disclosed pairs (at least ${r.exposedOnlyNeeded} exposed-only and at most ${r.decoyOnlyAllowed} decoy-only for the claim of ${r.claim.exposed_only} vs ${r.claim.decoy_only})`;
      if (r.outcome === "claim_not_checked") {
        const message =
          "claim, not checked against the suspect: the answers come from the package; re-query the suspect with --suspect to verify";
        emit(
          inv,
          { verified: false, outcome: "claim_not_checked", code: "claim_not_checked", message, ...data },
          `${renderChecks(r.checks)}\nNOT VERIFIED [claim_not_checked]: ${message}. The recorded answers are consistent with the claim: ${seen}`,
        );
        return exitCodeFor("claim_not_checked");
      }
      emit(
        inv,
        { verified: true, outcome: "verified", ...data },
        `${renderChecks(r.checks)}\nVERIFIED: the suspect, re-queried live, gives ${seen}; the claim reproduces`,
      );
      return EXIT.ok;
    } catch (err) {
      return reportFailure(inv, err);
    }
  },
};

const bundle: Command = {
  name: "bundle",
  summary: "Fetch an attestation bundle from a hub into a file (then check it offline with 'verify').",
  options: {
    ...hubFlags,
    index: { type: "string", valueName: "n", description: "Log index of the attestation." },
    session: { type: "string", valueName: "id", description: "Match session id of the attestation." },
    out: {
      type: "string",
      valueName: "file",
      description: "Where to write the bundle (protobuf JSON).",
      required: true,
    },
  },
  run: async (inv) => {
    const address = hubAddress(inv, true);
    const index = intOpt(inv, "index", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const session = stringOpt(inv, "session");
    if ((index === undefined) === (session === undefined)) {
      throw new CliError("usage", `${where(inv)}: give exactly one of --index and --session`);
    }
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
    using client = createClient(Hub, address, await credentialsOf(inv), { defaultTimeoutMs: timeoutMs });
    let res: Awaited<ReturnType<typeof client.getAttestationBundle>>;
    try {
      res = await client.getAttestationBundle({
        selector:
          index === undefined
            ? { case: "sessionId", value: session as string }
            : { case: "logIndex", value: BigInt(index) },
      });
    } catch (err) {
      const code = err instanceof RpcError ? err.code : "internal";
      const cls = code === "not_found" || code === "invalid_argument" ? "failed" : "unavailable";
      throw new CliError(cls, `${where(inv)}: the hub answered ${code}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (res.bundle === undefined) throw new CliError("unavailable", `${where(inv)}: the hub sent no bundle`);
    const out = resolve(inv.io.cwd, stringOpt(inv, "out") as string);
    try {
      await writeFile(out, bundleToJson(res.bundle));
    } catch (err) {
      throw new CliError("unavailable", `${where(inv)}: cannot write ${out}`, { cause: err });
    }
    emit(
      inv,
      { written: out },
      `bundle written to ${out} (not yet verified: run 'lineage audit verify ${out}')`,
    );
    return EXIT.ok;
  },
};

/** `lineage audit`. */
export const audit: Command = {
  name: "audit",
  summary: "Verify attestations, the whole log, its consistency and disclosures, trusting no one.",
  description:
    "Exit codes: 0 verified, 1 failed verification (forged, tampered, split view), 2 usage, 3 could not check.",
  subcommands: [verify, consistency, logWalk, disclosure, bundle, auditDisclosureKey],
};
