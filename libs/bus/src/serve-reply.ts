// Turning a serve handler's outcome into a reply, shared by both Bus implementations. A failure crosses
// the wire as an error code in the `Lineage-Bus-Error` header with an empty body: never the error text,
// which may hold private data (DESIGN.md "Privacy and trust").

import type { BusReply, BusRequest, ServeHandler } from "./bus.js";
import { type BusErrorCode, isBusError } from "./bus-error.js";
import { checkHeaders, ERROR_HEADER } from "./bus-options.js";

const EMPTY = new Uint8Array(0);

export const replyOf = {
  /** An error reply carrying only `code`. */
  error(code: BusErrorCode): BusReply {
    return { data: EMPTY, headers: { [ERROR_HEADER]: code } };
  },
};

/** Runs `handler`, checks what it returned, and never rejects: failures become error replies. */
export async function runServeHandler(
  handler: ServeHandler,
  req: BusRequest,
  maxPayloadBytes: number,
  onError: ((err: unknown) => void) | undefined,
): Promise<BusReply> {
  try {
    const out = await handler(req);
    if (out instanceof Uint8Array) {
      if (out.byteLength > maxPayloadBytes)
        throw new Error(`reply of ${out.byteLength} bytes exceeds the bound`);
      return { data: out, headers: {} };
    }
    if (out === null || typeof out !== "object" || !(out.data instanceof Uint8Array)) {
      throw new Error("serve handler must return a Uint8Array or { data, headers }");
    }
    if (out.data.byteLength > maxPayloadBytes)
      throw new Error(`reply of ${out.data.byteLength} bytes exceeds the bound`);
    return { data: out.data, headers: checkHeaders(out.headers) };
  } catch (err) {
    try {
      onError?.(err);
    } catch {
      // A failing error reporter must not stop the reply.
    }
    return replyOf.error(isBusError(err) ? err.code : "internal");
  }
}
