/**
 * The epoch battery from the hub (Hub.GetEpochBattery, hub_service.proto): the request carries a
 * member-signed header (the hub gives batteries to active members only); the response is untrusted until
 * its hub-signed header verifies under a configured hub key (member id "hub", domain
 * "lineage.v1.GetEpochBatteryResponse", payload = the response with its header unset) and was issued within
 * ±5 minutes. Probes are checked against epoch.proto's bounds and named by their decimal index, the id the
 * sketches carry (sketch-proto.ts); their max_tokens and top_logprobs are what the node asks the model with.
 * The battery and key must match the epoch's log entry the response carries (epoch-entry-check.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  GetEpochBatteryRequestSchema,
  type GetEpochBatteryResponse,
  GetEpochBatteryResponseSchema,
  ProbeKind,
} from "@lineage/api";
import { verifyMessage } from "@lineage/crypto";
import { type Battery, EPOCH_KEY_BYTES, type Probe } from "@lineage/fingerprint";
import type { MemberNodeDeps } from "../member-node-deps.js";
import { MemberNodeError } from "../member-node-error.js";
import { type BatterySource, batteryDigest, checkEpochBattery } from "./battery-source.js";
import { checkEpochEntry } from "./epoch-entry-check.js";

/** The hub's member id in signed headers. */
export const HUB_SIGNER = "hub";
/** Largest accepted |issued_at - now| of the hub's response. */
const MAX_SKEW_MS = 5 * 60_000;

const KINDS: Readonly<Record<number, Probe["kind"]>> = {
  [ProbeKind.EDGE_CASE]: "edge",
  [ProbeKind.OPEN_ENDED]: "open",
  [ProbeKind.SHORT_COMPLETION]: "completion",
};

function malformed(what: string): never {
  throw new MemberNodeError("malformed", `GetEpochBattery response: ${what}`);
}

/** Verifies the hub's signature on a response (attacker-controlled until then). */
export function verifyHubResponse(
  res: GetEpochBatteryResponse,
  deps: Pick<MemberNodeDeps, "hubKeys">,
  now: number,
): void {
  const h = res.header;
  if (h === undefined)
    throw new MemberNodeError("bad_signature", "GetEpochBattery response: no hub signature");
  if (h.memberId !== HUB_SIGNER)
    throw new MemberNodeError("bad_signature", "GetEpochBattery response: not signed by the hub");
  const issuedAtMs = Number(h.issuedAtMs);
  const payload = toBinary(
    GetEpochBatteryResponseSchema,
    create(GetEpochBatteryResponseSchema, { ...res, header: undefined }),
  );
  try {
    verifyMessage(
      GetEpochBatteryResponseSchema.typeName,
      {
        header: { memberId: h.memberId, sequence: h.sequence, nonce: h.nonce, issuedAtMs },
        payload,
        keyId: h.keyId,
        signature: h.signature,
      },
      (m) => (m === HUB_SIGNER ? deps.hubKeys : undefined),
    );
  } catch (cause) {
    throw new MemberNodeError(
      "bad_signature",
      "GetEpochBattery response: the hub's signature does not verify",
      { cause },
    );
  }
  if (!Number.isSafeInteger(issuedAtMs) || Math.abs(issuedAtMs - now) > MAX_SKEW_MS)
    throw new MemberNodeError("stale", "GetEpochBattery response: issued outside the clock-skew window");
}

/** The domain battery of a verified response (probe id = decimal index; bounds of epoch.proto). */
export function batteryFromResponse(res: GetEpochBatteryResponse): {
  battery: Battery;
  epochKey: Uint8Array;
  probeSettings: Map<string, { maxTokens?: number; topLogprobs?: number }>;
} {
  const b = res.battery;
  if (b === undefined || b.epoch === undefined) malformed("no battery");
  if (res.epochKey.length !== EPOCH_KEY_BYTES) malformed(`epoch_key must be ${EPOCH_KEY_BYTES} bytes`);
  if (b.probes.length === 0 || b.probes.length > 4096) malformed("the battery must hold 1..4096 probes");
  const probeSettings = new Map<string, { maxTokens?: number; topLogprobs?: number }>();
  const probes = b.probes.map((p, i): Probe => {
    if (p.index !== i) malformed(`probe #${i} has index ${p.index}; probes must be in index order 0..n-1`);
    const kind = KINDS[p.kind];
    if (kind === undefined) malformed(`probe ${i} has no known kind`);
    if (p.prompt.length === 0 || p.prompt.length > 8192)
      malformed(`probe ${i}: prompt must be 1..8192 characters`);
    if (p.referenceAnswer.length > 4096)
      malformed(`probe ${i}: reference_answer is longer than 4096 characters`);
    if (p.maxTokens > 4096) malformed(`probe ${i}: max_tokens must be at most 4096`);
    if (p.topLogprobs > 20) malformed(`probe ${i}: top_logprobs must be at most 20`);
    const fixed = {
      ...(p.maxTokens > 0 ? { maxTokens: p.maxTokens } : {}),
      ...(p.topLogprobs > 0 ? { topLogprobs: p.topLogprobs } : {}),
    };
    if (Object.keys(fixed).length > 0) probeSettings.set(String(i), fixed);
    if (kind === "edge") {
      if (p.referenceAnswer === "") malformed(`probe ${i}: an edge-case probe needs its reference answer`);
      return { id: String(i), kind, prompt: p.prompt, reference: p.referenceAnswer };
    }
    return { id: String(i), kind, prompt: p.prompt };
  });
  const battery = { epoch: b.epoch.epochId, probes };
  try {
    checkEpochBattery(battery, "GetEpochBattery response");
  } catch (cause) {
    malformed((cause as Error).message);
  }
  return { battery, epochKey: new Uint8Array(res.epochKey), probeSettings };
}

/** A battery source asking the configured hub. */
export function hubBatterySource(deps: MemberNodeDeps): BatterySource {
  return {
    async get(epochId, signal) {
      const hub = deps.hub;
      if (hub === undefined) throw new MemberNodeError("failed_precondition", "no hub is configured");
      const req = await deps.signer.sign(
        GetEpochBatteryRequestSchema,
        create(GetEpochBatteryRequestSchema, { epochId: epochId ?? "" }),
      );
      let res: GetEpochBatteryResponse;
      try {
        res = await hub.getEpochBattery(req, { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === "not_found")
          throw new MemberNodeError("not_found", `the hub has no epoch ${epochId ?? "(current)"}`, {
            cause: err,
          });
        throw new MemberNodeError(
          "unavailable",
          `the hub's GetEpochBattery failed (${typeof code === "string" ? code : "error"})`,
          { cause: err },
        );
      }
      verifyHubResponse(res, deps, deps.clock());
      const { battery, epochKey, probeSettings } = batteryFromResponse(res);
      checkEpochEntry(res); // the battery and key are the ones the hub logged for the epoch
      if (epochId !== undefined && battery.epoch !== epochId)
        malformed(`asked for epoch ${epochId}, got ${battery.epoch}`);
      return { battery, epochKey, batterySha256: batteryDigest(battery), probeSettings };
    },
  };
}
