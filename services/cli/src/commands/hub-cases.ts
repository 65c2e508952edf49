/**
 * `lineage hub cases list|show|confirm|dismiss` (issue 10, Cases): the secretariat's review of the cases the
 * running hub keeps (one per suspect; OPEN -> UNDER_REVIEW -> CONFIRMED | DISMISSED with a reason). Reads go
 * to GetCase/ListCases; a decision is a ReviewDecision signed with --key (the secretariat's hub key) under a
 * signed header, which the hub checks, logs hub-signed and applies (SubmitReviewDecision). A case still OPEN
 * is first moved UNDER_REVIEW by its own logged decision, so the log shows both steps. SIMILAR leads are
 * printed as leads, never as violations.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Case,
  CaseState,
  DismissalReason,
  Hub,
  ReviewDecisionSchema,
  SubmitReviewDecisionRequestSchema,
  Verdict,
} from "@lineage/api";
import { type Ed25519PrivateKey, signEnvelope } from "@lineage/crypto";
import { envelopeToProto, PAYLOAD_TYPES, SECRETARIAT, signRequest } from "@lineage/hub";
import { createClient, RpcError, type ServiceClient } from "@lineage/rpc";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation, OptionSpec } from "../command.js";
import { choiceOpt, emit, intOpt, requiredStringOpt, stringListOpt } from "../option-values.js";
import { credentialsOf, hubAddress } from "./audit.js";
import { clientCertFlags } from "./client-tls.js";
import { secretariatKey } from "./hub-keys-files.js";

const where = (inv: Invocation) => ["lineage", ...inv.path].join(" ");

export const connectFlags: Readonly<Record<string, OptionSpec>> = {
  hub: { type: "string", valueName: "host:port", required: true, description: "The running hub" },
  "tls-ca": {
    type: "string",
    valueName: "file",
    description: "PEM CA the hub's certificate must chain to (without it: plaintext)",
  },
  ...clientCertFlags,
  "timeout-ms": { type: "string", valueName: "ms", description: "Per-call timeout", default: "10000" },
};

const caseFlag: OptionSpec = { type: "string", valueName: "id", required: true, description: "The case id" };

const STATE_NAMES = {
  open: CaseState.OPEN,
  under_review: CaseState.UNDER_REVIEW,
  confirmed: CaseState.CONFIRMED,
  dismissed: CaseState.DISMISSED,
} as const;

const REASONS = {
  similar_training_data: DismissalReason.SIMILAR_TRAINING_DATA,
  common_base_model: DismissalReason.COMMON_BASE_MODEL,
  licensed_use: DismissalReason.LICENSED_USE,
  insufficient_evidence: DismissalReason.INSUFFICIENT_EVIDENCE,
  withdrawn: DismissalReason.WITHDRAWN,
  other: DismissalReason.OTHER,
} as const;

const stateName = (s: CaseState) =>
  (Object.entries(STATE_NAMES).find(([, v]) => v === s)?.[0] ?? "unknown") as string;
const reasonName = (r: DismissalReason) =>
  (Object.entries(REASONS).find(([, v]) => v === r)?.[0] ?? "") as string;
const verdictName = (v: Verdict) => Verdict[v] ?? "UNSPECIFIED";

export async function client(inv: Invocation): Promise<ServiceClient<typeof Hub>> {
  const address = hubAddress(inv, true);
  const timeoutMs = intOpt(inv, "timeout-ms", { min: 100, max: 600_000 }, 10_000) as number;
  return createClient(Hub, address, await credentialsOf(inv), { defaultTimeoutMs: timeoutMs });
}

export function rpcToCli(err: unknown, inv: Invocation): CliError {
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

/** A case as printed and emitted. */
function caseJson(c: Case) {
  return {
    case_id: c.caseId,
    suspect_id: c.suspect?.suspectId ?? "",
    state: stateName(c.state),
    shared_violation: c.sharedViolation,
    violation_members: [...c.memberIds],
    leads: c.attestations
      .filter((a) => a.verdict === Verdict.SIMILAR && !c.memberIds.includes(a.memberModel?.memberId ?? ""))
      .map((a) => a.memberModel?.memberId ?? ""),
    attestations: c.attestations.map((a) => ({
      log_index: Number(a.logIndex),
      member_id: a.memberModel?.memberId ?? "",
      model_id: a.memberModel?.modelId ?? "",
      verdict: verdictName(a.verdict),
      p_value: a.combinedPValue,
    })),
    dismissal_reason: reasonName(c.dismissalReason),
    rationale: c.rationale,
    last_decision_log_index: c.lastDecisionLogIndex === undefined ? null : Number(c.lastDecisionLogIndex),
  };
}

function caseLine(c: Case): string {
  const j = caseJson(c);
  const what = j.shared_violation
    ? `SHARED VIOLATION of ${j.violation_members.join(", ")}`
    : j.violation_members.length > 0
      ? `violation of ${j.violation_members.join(", ")}`
      : "no violation";
  const leads = j.leads.length > 0 ? `; leads (not violations): ${j.leads.join(", ")}` : "";
  return `${j.case_id}\t${j.state}\tsuspect ${j.suspect_id}\t${what}${leads}`;
}

const list: Command = {
  name: "list",
  summary: "List cases (state, suspect, violation or shared violation, leads).",
  options: {
    ...connectFlags,
    state: {
      type: "string",
      valueName: "state",
      multiple: true,
      description: "Only cases in this state: open, under_review, confirmed, dismissed (repeatable)",
    },
    shared: { type: "boolean", description: "Only shared violations" },
  },
  run: async (inv) => {
    const states = stringListOpt(inv, "state").map((s) => {
      const v = STATE_NAMES[s as keyof typeof STATE_NAMES];
      if (v === undefined)
        throw new CliError(
          "invalid_argument",
          `${where(inv)}: --state must be one of ${Object.keys(STATE_NAMES).join(", ")}, got '${s.slice(0, 40)}'`,
        );
      return v;
    });
    if (states.length > 4) throw new CliError("invalid_argument", `${where(inv)}: at most 4 --state`);
    using c = await client(inv);
    const cases: Case[] = [];
    try {
      let token = "";
      for (let page = 0; page < 10_000; page++) {
        const res = await c.listCases({
          states,
          sharedViolationOnly: inv.options.shared === true,
          pageSize: 500,
          pageToken: token,
        });
        cases.push(...res.cases);
        token = res.nextPageToken;
        if (token === "") break;
      }
    } catch (err) {
      throw rpcToCli(err, inv);
    }
    emit(
      inv,
      { cases: cases.map(caseJson) },
      cases.length === 0 ? "no cases" : cases.map(caseLine).join("\n"),
    );
    return EXIT.ok;
  },
};

const show: Command = {
  name: "show",
  summary: "Show one case with its attestations.",
  options: { ...connectFlags, case: caseFlag },
  run: async (inv) => {
    const id = requiredStringOpt(inv, "case");
    using c = await client(inv);
    let got: Case | undefined;
    try {
      got = (await c.getCase({ caseId: id })).case;
    } catch (err) {
      throw rpcToCli(err, inv);
    }
    if (got === undefined) throw new CliError("failed", `${where(inv)}: the hub returned no case`);
    const j = caseJson(got);
    const human = [
      caseLine(got),
      ...j.attestations.map(
        (a) =>
          `  log ${a.log_index}\t${a.member_id}/${a.model_id}\t${a.verdict}\tp=${a.p_value.toExponential(2)}`,
      ),
      ...(j.state === "dismissed" ? [`  dismissed: ${j.dismissal_reason}: ${j.rationale}`] : []),
      ...(j.state === "confirmed" ? [`  confirmed: ${j.rationale}`] : []),
    ].join("\n");
    emit(inv, j, human);
    return EXIT.ok;
  },
};

async function submit(
  inv: Invocation,
  c: ServiceClient<typeof Hub>,
  hubKey: Ed25519PrivateKey,
  decision: Parameters<typeof create<typeof ReviewDecisionSchema>>[1],
) {
  const d = create(ReviewDecisionSchema, decision);
  const envelope = signEnvelope(PAYLOAD_TYPES.reviewDecision, toBinary(ReviewDecisionSchema, d), hubKey);
  const req = signRequest(
    SubmitReviewDecisionRequestSchema,
    create(SubmitReviewDecisionRequestSchema, { decision: envelopeToProto(envelope) }),
    { memberId: SECRETARIAT, key: hubKey },
  );
  try {
    return await c.submitReviewDecision(req);
  } catch (err) {
    throw rpcToCli(err, inv);
  }
}

const decideFlags: Readonly<Record<string, OptionSpec>> = {
  ...connectFlags,
  case: caseFlag,
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
    description: "Who decides (1..128 characters), logged",
  },
  rationale: {
    type: "string",
    valueName: "text",
    required: true,
    description: "Why (1..4096 characters), logged",
  },
};

function decideCommand(name: "confirm" | "dismiss"): Command {
  return {
    name,
    summary:
      name === "confirm"
        ? "Confirm a case as copied (signed, logged; an OPEN case is first moved under review)."
        : "Dismiss a case with a reason (signed, logged; an OPEN case is first moved under review).",
    options:
      name === "confirm"
        ? decideFlags
        : {
            ...decideFlags,
            reason: {
              type: "string",
              valueName: "reason",
              required: true,
              description: `Why it is dismissed: ${Object.keys(REASONS).join(", ")}`,
            },
          },
    run: async (inv) => {
      const caseId = requiredStringOpt(inv, "case");
      const reviewer = requiredStringOpt(inv, "reviewer");
      const rationale = requiredStringOpt(inv, "rationale");
      if (reviewer.length < 1 || reviewer.length > 128)
        throw new CliError("invalid_argument", `${where(inv)}: --reviewer must be 1..128 characters`);
      if (rationale.trim().length === 0 || rationale.length > 4096)
        throw new CliError("invalid_argument", `${where(inv)}: --rationale must be 1..4096 characters`);
      const reason =
        name === "dismiss"
          ? REASONS[
              (choiceOpt(inv, "reason", Object.keys(REASONS) as (keyof typeof REASONS)[]) ??
                "other") as keyof typeof REASONS
            ]
          : DismissalReason.UNSPECIFIED;
      const hubKey = await secretariatKey(inv, requiredStringOpt(inv, "key"));
      using c = await client(inv);
      let current: Case | undefined;
      try {
        current = (await c.getCase({ caseId })).case;
      } catch (err) {
        throw rpcToCli(err, inv);
      }
      if (current === undefined) throw new CliError("failed", `${where(inv)}: the hub returned no case`);
      if (current.state !== CaseState.OPEN && current.state !== CaseState.UNDER_REVIEW)
        throw new CliError("failed", `${where(inv)}: case ${caseId} is already ${stateName(current.state)}`);
      const indexes: number[] = [];
      if (current.state === CaseState.OPEN) {
        const r = await submit(inv, c, hubKey, {
          caseId,
          fromState: CaseState.OPEN,
          toState: CaseState.UNDER_REVIEW,
          rationale: "",
          reviewer,
          decidedAt: timestampFromMs(Date.now()),
        });
        indexes.push(Number(r.logEntry?.index ?? 0n));
      }
      const r = await submit(inv, c, hubKey, {
        caseId,
        fromState: CaseState.UNDER_REVIEW,
        toState: name === "confirm" ? CaseState.CONFIRMED : CaseState.DISMISSED,
        dismissalReason: reason,
        rationale,
        reviewer,
        decidedAt: timestampFromMs(Date.now()),
      });
      indexes.push(Number(r.logEntry?.index ?? 0n));
      const after = r.case;
      if (after === undefined) throw new CliError("failed", `${where(inv)}: the hub returned no case`);
      emit(
        inv,
        { ...caseJson(after), decision_log_indexes: indexes },
        `${caseId}: ${stateName(after.state)}${name === "dismiss" ? ` (${reasonName(after.dismissalReason)})` : ""}; decision logged at index ${indexes.join(", ")}`,
      );
      return EXIT.ok;
    },
  };
}

/** `lineage hub cases ...`. */
export const hubCases: Command = {
  name: "cases",
  summary: "Review the hub's cases: list, show, confirm, dismiss (decisions signed and logged).",
  subcommands: [list, show, decideCommand("confirm"), decideCommand("dismiss")],
};
