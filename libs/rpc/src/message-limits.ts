/**
 * Message-size limits applied to every Lineage server and client. grpc-js enforces them on the
 * encoded message before decoding and answers RESOURCE_EXHAUSTED (domain code `too_large`).
 */
import type { ChannelOptions } from "@grpc/grpc-js";

/** Default largest message received or sent: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Largest limit that can be configured: 64 MiB. */
export const MAX_CONFIGURABLE_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Size limits of a server or client. */
export interface MessageLimits {
  /** Largest message accepted, in bytes (1..64 MiB; default 4 MiB). */
  readonly maxReceiveMessageBytes?: number;
  /** Largest message sent, in bytes (1..64 MiB; default 4 MiB). */
  readonly maxSendMessageBytes?: number;
}

function check(name: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_CONFIGURABLE_MESSAGE_BYTES) {
    throw new RangeError(`${name} must be an integer in 1..${MAX_CONFIGURABLE_MESSAGE_BYTES}, got ${value}`);
  }
  return value;
}

/** grpc-js channel options for the limits (validated). */
export function limitChannelOptions(limits: MessageLimits = {}): ChannelOptions {
  return {
    "grpc.max_receive_message_length": check("maxReceiveMessageBytes", limits.maxReceiveMessageBytes),
    "grpc.max_send_message_length": check("maxSendMessageBytes", limits.maxSendMessageBytes),
  };
}
