/**
 * Hub.GetEpochBattery and Hub.RotateEpoch (proto/lineage/v1/hub_service.proto). The battery and the epoch
 * key go to members only: the caller's header must be signed by a logged key of an active member (no
 * header: UNAUTHENTICATED; a suspended or removed member: PERMISSION_DENIED). Rotation is the
 * secretariat's: a header signed by the hub key. Both refuse replayed and stale headers.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  EpochRotationSchema,
  GetEpochBatteryRequestSchema,
  GetEpochBatteryResponseSchema,
  type Hub,
  RotateEpochRequestSchema,
} from "@lineage/api";
import type { Bus } from "@lineage/bus";
import { CryptoError, type Ed25519PrivateKey, type MessageHeader, ReplayGuard } from "@lineage/crypto";
import type { ServiceImpl } from "@lineage/rpc";
import { HubError } from "../ingest/hub-error.js";
import type { MemberDirectory } from "../ingest/member-directory.js";
import { signHeader, verifyHubHeader, verifyMemberHeader } from "../ingest/signed-header.js";
import { batteryOf, type EpochStore, epochMessage } from "./epoch-store.js";

/** Subject of the hub's EpochRotation announcement (epoch.proto). */
export const EPOCH_ROTATED_SUBJECT = "lineage.epoch.rotated";
/** Largest request body signed under a header (a RotateEpoch with 4096 long probes fits). */
const MAX_SIGNED_REQUEST_BYTES = 64 * 1024 * 1024;

/** What the epoch handlers need. */
export interface EpochHandlerDeps {
  readonly epochs: EpochStore;
  readonly members: MemberDirectory;
  /** The hub's key: verifies the secretariat's rotations, signs responses and announcements. */
  readonly hubKey: Ed25519PrivateKey;
  /** Where rotations are announced (EpochRotation on lineage.epoch.rotated); optional. */
  readonly bus?: Bus;
  readonly now?: () => number;
}

/** The epoch handlers; spread them into the hub's `ServiceImpl<typeof Hub>`. */
export type EpochHandlers = Pick<ServiceImpl<typeof Hub>, "getEpochBattery" | "rotateEpoch">;

/** Replay and freshness of request headers (one guard per hub process and method family). */
function accept(guard: ReplayGuard, header: MessageHeader): void {
  try {
    guard.accept(header);
  } catch (err) {
    if (err instanceof CryptoError && (err.code === "replay" || err.code === "stale")) {
      throw new HubError(err.code, `request header: ${err.message}`, { cause: err });
    }
    throw new HubError("malformed", "request header is malformed", { cause: err });
  }
}

/** Builds the epoch handlers. */
export function epochHandlers(deps: EpochHandlerDeps): EpochHandlers {
  const now = deps.now ?? Date.now;
  const guard = new ReplayGuard({ now });
  // Hub-signed responses: a sequence that keeps increasing across restarts (microseconds at start).
  let sequence = BigInt(now()) * 1000n;
  const nextSequence = () => {
    sequence += 1n;
    return sequence;
  };
  return {
    async getEpochBattery(req) {
      const body = toBinary(
        GetEpochBatteryRequestSchema,
        create(GetEpochBatteryRequestSchema, { epochId: req.epochId }),
      );
      const { header, key } = verifyMemberHeader(
        GetEpochBatteryRequestSchema.typeName,
        req.header,
        body,
        deps.members,
        now(),
        MAX_SIGNED_REQUEST_BYTES,
        "GetEpochBattery",
      );
      accept(guard, header);
      const status = await deps.members.statusOf(key);
      if (status !== "active") {
        throw new HubError(
          "permission_denied",
          `member ${key.memberId} is ${status}: batteries go to active members only`,
        );
      }
      const record = req.epochId === "" ? await deps.epochs.current() : await deps.epochs.get(req.epochId);
      if (record === undefined) {
        throw new HubError(
          "not_found",
          req.epochId === "" ? "no epoch is current" : `no epoch ${req.epochId}`,
        );
      }
      const response = create(GetEpochBatteryResponseSchema, {
        battery: batteryOf(record),
        epochKey: record.epochKey,
      });
      const signed = signHeader(
        GetEpochBatteryResponseSchema.typeName,
        toBinary(GetEpochBatteryResponseSchema, response),
        deps.hubKey,
        "hub",
        nextSequence(),
        now(),
      );
      return { ...response, header: signed };
    },

    async rotateEpoch(req) {
      const body = toBinary(
        RotateEpochRequestSchema,
        create(RotateEpochRequestSchema, { ...req, header: undefined }),
      );
      const header = verifyHubHeader(
        RotateEpochRequestSchema.typeName,
        req.header,
        body,
        deps.hubKey.publicKey,
        MAX_SIGNED_REQUEST_BYTES,
        "RotateEpoch",
      );
      accept(guard, header);
      if (req.notAfter === undefined)
        throw new HubError("invalid_argument", "RotateEpoch: not_after is missing");
      const record = await deps.epochs.rotate({
        epochId: req.epochId,
        probes: req.probes,
        notAfterMs: Number(timestampMs(req.notAfter)),
      });
      const epoch = epochMessage(record);
      if (deps.bus !== undefined) {
        const announcement = create(EpochRotationSchema, { epoch });
        const signed = signHeader(
          EpochRotationSchema.typeName,
          toBinary(EpochRotationSchema, announcement),
          deps.hubKey,
          "hub",
          nextSequence(),
          now(),
        );
        // Best effort: members also learn the epoch from GetEpochBattery; a bus hiccup must not undo a rotation.
        await deps.bus
          .emit(
            EPOCH_ROTATED_SUBJECT,
            toBinary(EpochRotationSchema, create(EpochRotationSchema, { epoch, header: signed })),
          )
          .catch(() => undefined);
      }
      return { epoch };
    },
  };
}
