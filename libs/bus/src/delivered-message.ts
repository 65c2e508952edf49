// A delivered JetStream message with settle-once semantics (ack / nak / term), shared by both Bus
// implementations so the rules for double settlement and bad arguments are identical.

import type { BusHeaders, BusMessage } from "./bus.js";
import { checkDelay } from "./bus-options.js";

/** How an implementation carries out a settlement. Called at most once per message (plus `working`). */
export interface SettleOps {
  ack(): void;
  nak(delayMs: number | undefined): void;
  term(reason: string | undefined): void;
  working(): void;
}

/** Fields of a delivered message. */
export interface DeliveryFields {
  readonly stream: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: BusHeaders;
  readonly msgId: string | undefined;
  readonly seq: number;
  readonly deliveryCount: number;
}

const MAX_REASON_LEN = 256;

/** {@link BusMessage} over {@link SettleOps}: the first settlement wins, later ones are ignored. */
export class DeliveredMessage implements BusMessage {
  readonly stream: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: BusHeaders;
  readonly msgId: string | undefined;
  readonly seq: number;
  readonly deliveryCount: number;
  #settled = false;
  readonly #ops: SettleOps;

  constructor(fields: DeliveryFields, ops: SettleOps) {
    this.stream = fields.stream;
    this.subject = fields.subject;
    this.data = fields.data;
    this.headers = fields.headers;
    this.msgId = fields.msgId;
    this.seq = fields.seq;
    this.deliveryCount = fields.deliveryCount;
    this.#ops = ops;
  }

  get settled(): boolean {
    return this.#settled;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#ops.ack();
  }

  nak(delayMs?: number): void {
    // Check before settling so a bad delay leaves the message unsettled (redelivered on ack wait).
    const delay = delayMs === undefined || delayMs === 0 ? undefined : checkDelay("nak delayMs", delayMs);
    if (this.#settled) return;
    this.#settled = true;
    this.#ops.nak(delay);
  }

  term(reason?: string): void {
    if (this.#settled) return;
    this.#settled = true;
    // The reason reaches server advisories; keep it short and single-line.
    const clean =
      typeof reason === "string" ? reason.replace(/[^\x20-\x7e]/g, "?").slice(0, MAX_REASON_LEN) : undefined;
    this.#ops.term(clean === "" ? undefined : clean);
  }

  working(): void {
    if (!this.#settled) this.#ops.working();
  }
}
