/**
 * `@lineage/bus`: NATS JetStream publishing/consuming and an in-process bus with the same semantics
 * (DESIGN.md "Running it"). Both implement {@link Bus}; the same contract suite runs against both.
 */

export type {
  Bus,
  BusEvent,
  BusHeaders,
  BusMessage,
  BusReply,
  BusRequest,
  BusSubscription,
  ConsumeOptions,
  ConsumerSpec,
  ConsumerState,
  Consumption,
  EnsureStreamResult,
  MessageHandler,
  MessageStream,
  PublishAck,
  PublishOptions,
  RequestOptions,
  ServeHandler,
  ServeOptions,
  ServeResult,
  StreamSpec,
  StreamState,
  SubscribeOptions,
} from "./bus.js";
export type { BusErrorCode } from "./bus-error.js";
export {
  BUS_ERROR_CODES,
  BusError,
  dispositionFor,
  isBusError,
  isBusErrorCode,
  isRetryableCode,
} from "./bus-error.js";
export { DEFAULT_MAX_PAYLOAD_BYTES } from "./bus-options.js";
export { defaultRetryDelayMs } from "./consumption.js";
export type { InProcessBusOptions } from "./in-process-bus.js";
export { createInProcessBus } from "./in-process-bus.js";
export type { NatsBusOptions } from "./nats-bus.js";
export { connectNatsBus } from "./nats-bus.js";
export { checkPattern, checkSubject, patternsOverlap, subjectMatches } from "./subject.js";
