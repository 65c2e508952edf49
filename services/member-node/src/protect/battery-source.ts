/**
 * Where the node gets the current epoch's battery and sketch key. Today from files (`battery.file` and
 * `battery.epoch_key_file` in the config, or `lineage member serve --battery --epoch-key`); the hub's
 * GetEpochBattery implements the same {@link BatterySource} when it lands. Both files are untrusted input:
 * bounded, parsed and checked here (the battery by libs/fingerprint parseBattery), with errors naming the
 * file — never quoting a probe.
 */
import { createHash } from "node:crypto";
import { type Battery, EPOCH_KEY_BYTES, parseBattery, SKETCH_LIMITS } from "@lineage/fingerprint";
import { readPrivateFile } from "../config/member-node-config.js";
import { MemberNodeError } from "../member-node-error.js";

/** An epoch's battery with what sketching it needs. */
export interface EpochBattery {
  readonly battery: Battery;
  /** The epoch's HMAC key for sketch digests (32 bytes). Private to the alliance. */
  readonly epochKey: Uint8Array;
  /** SHA-256 of the battery's canonical JSON: a resumed run must see the same battery. */
  readonly batterySha256: Uint8Array;
  /** Per-probe generation settings the battery fixes (epoch.proto max_tokens, top_logprobs), by probe id. */
  readonly probeSettings?: ReadonlyMap<
    string,
    { readonly maxTokens?: number; readonly topLogprobs?: number }
  >;
}

/** Gives the current epoch's battery (or a named one). */
export interface BatterySource {
  /** `epochId` undefined = the current epoch. @throws MemberNodeError `not_found` for an unknown epoch. */
  get(epochId?: string, signal?: AbortSignal): Promise<EpochBattery>;
}

/** Largest battery file read. */
export const MAX_BATTERY_FILE_BYTES = 64 * 1024 * 1024;
const EPOCH_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Checks a parsed battery beyond parseBattery: an epoch id a sketch can carry, at most 4096 probes. */
export function checkEpochBattery(battery: Battery, where: string): void {
  if (!EPOCH_ID.test(battery.epoch))
    throw new MemberNodeError(
      "invalid_argument",
      `${where}: epoch must be 1..64 characters of [A-Za-z0-9._:-]`,
    );
  if (battery.probes.length > SKETCH_LIMITS.maxProbes)
    throw new MemberNodeError("invalid_argument", `${where}: more than ${SKETCH_LIMITS.maxProbes} probes`);
  for (const [i, p] of battery.probes.entries()) {
    if (Buffer.byteLength(p.id, "utf8") > SKETCH_LIMITS.maxProbeIdBytes)
      throw new MemberNodeError("invalid_argument", `${where}: probe #${i} id is longer than 128 bytes`);
  }
}

/** SHA-256 of the canonical JSON of a battery (epoch, then probes in order, fields in a fixed order). */
export function batteryDigest(battery: Battery): Uint8Array {
  const canonical = JSON.stringify({
    epoch: battery.epoch,
    probes: battery.probes.map((p) => [p.id, p.kind, p.prompt, p.reference ?? null]),
  });
  return new Uint8Array(createHash("sha256").update(canonical).digest());
}

/** Parses a battery document (bytes of a JSON file named `where`). */
export function parseBatteryText(text: string, where: string): Battery {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new MemberNodeError("invalid_argument", `${where} is not valid JSON`);
  }
  let battery: Battery;
  try {
    battery = parseBattery(doc);
  } catch (err) {
    throw new MemberNodeError("invalid_argument", `${where}: ${(err as Error).message}`, { cause: err });
  }
  checkEpochBattery(battery, where);
  return battery;
}

/** Parses an epoch key file: 64 hex characters (surrounding whitespace allowed). */
export function parseEpochKey(text: string, where: string): Uint8Array {
  const hex = text.trim();
  if (!new RegExp(`^[0-9a-fA-F]{${EPOCH_KEY_BYTES * 2}}$`).test(hex))
    throw new MemberNodeError("invalid_argument", `${where} must hold ${EPOCH_KEY_BYTES * 2} hex characters`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/**
 * A battery source over two files, read on each call (so replacing the files rotates the epoch without a
 * restart). The key file must be private (mode 0600).
 */
export function fileBatterySource(batteryFile: string, epochKeyFile: string): BatterySource {
  return {
    async get(epochId) {
      const text = await readPrivateFile(batteryFile, "battery file", MAX_BATTERY_FILE_BYTES, false);
      const battery = parseBatteryText(text, `battery file ${batteryFile}`);
      const epochKey = parseEpochKey(
        await readPrivateFile(epochKeyFile, "epoch key file", 1024, true),
        `epoch key file ${epochKeyFile}`,
      );
      if (epochId !== undefined && epochId !== battery.epoch)
        throw new MemberNodeError(
          "not_found",
          `epoch ${epochId} is not the current epoch (${battery.epoch})`,
        );
      return { battery, epochKey, batterySha256: batteryDigest(battery) };
    },
  };
}

/** A source over a battery held in memory (tests, benchmarks, the embedded demo). */
export function staticBatterySource(battery: Battery, epochKey: Uint8Array): BatterySource {
  checkEpochBattery(battery, "battery");
  if (epochKey.length !== EPOCH_KEY_BYTES)
    throw new MemberNodeError("invalid_argument", `epoch key must be ${EPOCH_KEY_BYTES} bytes`);
  const entry = { battery, epochKey: epochKey.slice(), batterySha256: batteryDigest(battery) };
  return {
    async get(epochId) {
      if (epochId !== undefined && epochId !== battery.epoch)
        throw new MemberNodeError(
          "not_found",
          `epoch ${epochId} is not the current epoch (${battery.epoch})`,
        );
      return entry;
    },
  };
}
