/**
 * Hub.SubmitSketch and Hub.UploadSketches (hub_service.proto): the gRPC twins of the NATS
 * SketchAnnouncement, checked exactly like it (sketch-verifier.ts) and committed through the same batches.
 * Errors travel as their gRPC status: a forged signature UNAUTHENTICATED, a replay ALREADY_EXISTS, a stale
 * header or epoch FAILED_PRECONDITION, a malformed sketch INVALID_ARGUMENT, an oversized one
 * RESOURCE_EXHAUSTED, another member's model PERMISSION_DENIED.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { type Hub, SubmitSketchRequestSchema, UploadSketchesRequestSchema } from "@lineage/api";
import type { ServiceImpl } from "@lineage/rpc";
import { HubError, isHubError } from "./hub-error.js";
import type { IngestResult, SketchIngestor } from "./sketch-ingestor.js";

/** Most messages in one UploadSketches call (its response lists at most 10 000 ids). */
export const MAX_UPLOAD_SKETCHES = 10_000;

/** The ingestion handlers; spread them into the hub's `ServiceImpl<typeof Hub>`. */
export type SketchHandlers = Pick<ServiceImpl<typeof Hub>, "submitSketch" | "uploadSketches">;

/** Builds the sketch ingestion handlers over an ingestor. */
export function sketchHandlers(ingestor: SketchIngestor): SketchHandlers {
  return {
    async submitSketch(req) {
      const body = toBinary(
        SubmitSketchRequestSchema,
        create(SubmitSketchRequestSchema, { sketch: req.sketch }),
      );
      const raw = toBinary(SubmitSketchRequestSchema, req);
      const r = await ingestor.ingestRequest(
        SubmitSketchRequestSchema.typeName,
        req.header,
        req.sketch,
        body,
        raw,
      );
      return { sketchId: r.sketchId, duplicate: r.duplicate };
    },

    async uploadSketches(requests) {
      // Each message is verified as it arrives and committed in the shared batches; the call answers once
      // every message is indexed or rejected. A rejection fails the call naming the message (earlier
      // accepted sketches stay indexed: each is signed on its own).
      const pending: Promise<IngestResult>[] = [];
      for await (const req of requests) {
        if (pending.length >= MAX_UPLOAD_SKETCHES) {
          throw new HubError("too_large", `at most ${MAX_UPLOAD_SKETCHES} sketches per UploadSketches call`);
        }
        const body = toBinary(
          UploadSketchesRequestSchema,
          create(UploadSketchesRequestSchema, { sketch: req.sketch }),
        );
        const raw = toBinary(UploadSketchesRequestSchema, req);
        const p = ingestor.ingestRequest(
          UploadSketchesRequestSchema.typeName,
          req.header,
          req.sketch,
          body,
          raw,
        );
        p.catch(() => undefined);
        pending.push(p);
      }
      if (pending.length === 0)
        throw new HubError("invalid_argument", "UploadSketches: no sketches were sent");
      const settled = await Promise.allSettled(pending);
      const ids: string[] = [];
      let accepted = 0;
      let duplicates = 0;
      for (const [i, s] of settled.entries()) {
        if (s.status === "rejected") {
          const err = s.reason;
          if (isHubError(err))
            throw new HubError(err.code, `UploadSketches message ${i}: ${err.message}`, { cause: err });
          throw err;
        }
        ids.push(s.value.sketchId);
        if (s.value.duplicate) duplicates++;
        else accepted++;
      }
      return { accepted, duplicates, sketchIds: ids };
    },
  };
}
