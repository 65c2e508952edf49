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
import type { Ed25519PrivateKey } from "@lineage/crypto";
import type { ServiceImpl } from "@lineage/rpc";
import { HubError } from "../ingest/hub-error.js";
import type { MemberDirectory } from "../ingest/member-directory.js";
import { type RequestAuthenticator, SECRETARIAT, signRequest } from "../membership/request-header.js";
import { checkEpochId } from "./epoch-battery.js";
import { type EpochLog, ensureEpochLogged } from "./epoch-log.js";
import { batteryOf, type EpochStore, epochMessage } from "./epoch-store.js";

/** Subject of the hub's EpochRotation announcement (epoch.proto). */
export const EPOCH_ROTATED_SUBJECT = "lineage.epoch.rotated";

/** What the epoch handlers need. */
export interface EpochHandlerDeps {
  readonly epochs: EpochStore;
  /** Signed request headers, verified against the log's keys with the hub's one replay guard. */
  readonly auth: RequestAuthenticator;
  readonly members: MemberDirectory;
  /** The hub's key: signs responses and announcements. */
  readonly hubKey: Ed25519PrivateKey;
  /**
   * The transparency log: an epoch is handed out only with its logged statement (epoch-log.ts), logged first
   * when it is not yet.
   */
  readonly log: EpochLog;
  /** Where rotations are announced (EpochRotation on lineage.epoch.rotated); optional. */
  readonly bus?: Bus;
  readonly now?: () => number;
}

/** The epoch handlers; spread them into the hub's `ServiceImpl<typeof Hub>`. */
export type EpochHandlers = Pick<ServiceImpl<typeof Hub>, "getEpochBattery" | "rotateEpoch">;

/** Builds the epoch handlers. */
export function epochHandlers(deps: EpochHandlerDeps): EpochHandlers {
  const now = deps.now ?? Date.now;
  return {
    async getEpochBattery(req) {
      const sender = await deps.auth.verify(GetEpochBatteryRequestSchema, req);
      const key = sender.memberId === SECRETARIAT ? undefined : deps.members.memberKey(sender.keyId);
      if (key === undefined) throw new HubError("permission_denied", "batteries go to members only");
      const status = await deps.members.statusOf(key);
      if (status !== "active") {
        throw new HubError(
          "permission_denied",
          `member ${key.memberId} is ${status}: batteries go to active members only`,
        );
      }
      if (req.epochId !== "") checkEpochId(req.epochId);
      const record = req.epochId === "" ? await deps.epochs.current() : await deps.epochs.get(req.epochId);
      if (record === undefined) {
        throw new HubError(
          "not_found",
          req.epochId === "" ? "no epoch is current" : `no epoch ${req.epochId}`,
        );
      }
      const epochEntry = await ensureEpochLogged(deps.log, record, now());
      const response = create(GetEpochBatteryResponseSchema, {
        battery: batteryOf(record),
        epochKey: record.epochKey,
        epochEntry,
      });
      return signRequest(
        GetEpochBatteryResponseSchema,
        response,
        { memberId: SECRETARIAT, key: deps.hubKey },
        { nowMs: now() },
      );
    },

    async rotateEpoch(req) {
      const sender = await deps.auth.verify(RotateEpochRequestSchema, req);
      if (sender.memberId !== SECRETARIAT)
        throw new HubError("permission_denied", "only the secretariat rotates epochs");
      if (req.notAfter === undefined)
        throw new HubError("invalid_argument", "RotateEpoch: not_after is missing");
      const record = await deps.epochs.rotate({
        epochId: req.epochId,
        probes: req.probes,
        notAfterMs: Number(timestampMs(req.notAfter)),
      });
      const epoch = epochMessage(record);
      if (deps.bus !== undefined) {
        const announcement = signRequest(EpochRotationSchema, create(EpochRotationSchema, { epoch }), {
          memberId: SECRETARIAT,
          key: deps.hubKey,
        });
        // Best effort: members also learn the epoch from GetEpochBattery; a bus hiccup must not undo a rotation.
        await deps.bus
          .emit(EPOCH_ROTATED_SUBJECT, toBinary(EpochRotationSchema, announcement))
          .catch(() => undefined);
      }
      return { epoch };
    },
  };
}
