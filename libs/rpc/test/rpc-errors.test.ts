// Error mapping through a real server: domain codes cross as gRPC status + ErrorInfo and come back
// as the same code with `retryable`; unknown errors cross as "internal error" + correlation id and
// their secret text never reaches the client; malformed and oversized requests.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client, credentials, type ServiceError, status } from "@grpc/grpc-js";
import { Hub } from "@lineage/api";
import {
  createClient,
  insecureChannelCredentials,
  RpcError,
  STATUS_DETAILS_KEY,
  withUnimplemented,
} from "../src/index.js";
import { recordingLogger, startServer } from "./fixtures.js";

const SECRET = "CANARY-PROMPT-7f3a: what is the capital of Atlantis";

class FakePackageError extends Error {
  override readonly name = "FakePackageError";
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.retryAfterMs !== undefined) Object.assign(this, { retryAfterMs: options.retryAfterMs });
  }
}

function rawUnary(address: string, path: string, bytes: Buffer): Promise<ServiceError> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (err) => {
        client.close();
        if (err) resolve(err);
        else reject(new Error("expected the call to fail"));
      },
    );
  });
}

describe("error mapping", () => {
  it("a method this server does not serve answers UNIMPLEMENTED, naming it, for unary and streaming", async () => {
    await using srv = await startServer(Hub, withUnimplemented(Hub, {}));
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const err = await client.getMember({ memberId: "m" }).then(
      () => assert.fail("expected UNIMPLEMENTED"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, "unimplemented");
    assert.equal(err.grpcStatus, status.UNIMPLEMENTED);
    assert.equal(err.retryable, false);
    assert.match(err.message, /lineage\.v1\.Hub\/GetMember is not served/);
    await assert.rejects(
      (async () => {
        for await (const _ of client.watchAlerts({})) assert.fail("no alert expected");
      })(),
      (e: unknown) => e instanceof RpcError && e.code === "unimplemented",
    );
  });

  it("any error with a domain `code` is mapped through the table and keeps its safe message", async () => {
    const cases: Array<[string, status, boolean]> = [
      ["bad_signature", status.UNAUTHENTICATED, false],
      ["unknown_key", status.UNAUTHENTICATED, false],
      ["replay", status.ALREADY_EXISTS, false],
      ["unknown_member", status.NOT_FOUND, false],
      ["stale", status.FAILED_PRECONDITION, false],
      ["unavailable", status.UNAVAILABLE, true],
      ["rate_limited", status.RESOURCE_EXHAUSTED, true],
      ["too_large", status.RESOURCE_EXHAUSTED, false],
      ["conflict", status.ABORTED, false],
    ];
    const logger = recordingLogger();
    let next = 0;
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getMember() {
          const [code] = cases[next++] ?? ["internal"];
          throw new FakePackageError(code, `refused: ${code}`, { cause: new Error(SECRET) });
        },
      }),
      { logger },
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    for (const [code, grpcStatus, retryable] of cases) {
      await assert.rejects(client.getMember({ memberId: "acme" }), (err: unknown) => {
        assert.ok(err instanceof RpcError);
        assert.equal(err.code, code);
        assert.equal(err.grpcStatus, grpcStatus);
        assert.equal(err.retryable, retryable);
        assert.equal(err.message, `refused: ${code}`);
        assert.ok(!JSON.stringify(err, Object.getOwnPropertyNames(err)).includes("Atlantis"));
        return true;
      });
    }
    assert.equal(logger.records.length, cases.length);
    assert.ok(logger.records.every((r) => r.error instanceof FakePackageError));
  });

  it("an unknown error becomes 'internal error' with a correlation id; its text and cause are only logged", async () => {
    const logger = recordingLogger();
    let rawDetails = "";
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getMember() {
          throw new Error(`db said: ${SECRET}`, { cause: new Error(SECRET) });
        },
        async *getLogEntries() {
          yield { entry: { index: 0n } };
          throw new TypeError(SECRET);
        },
      }),
      { logger },
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    await assert.rejects(client.getMember({ memberId: "acme" }), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "internal");
      assert.equal(err.retryable, false);
      assert.match(err.message, /^internal error \(correlation id [0-9a-f-]{36}\)$/);
      assert.equal(logger.records[0]?.correlationId, err.correlationId);
      const wire = (err.cause as ServiceError).metadata.get(STATUS_DETAILS_KEY)[0] as Buffer;
      rawDetails = `${err.message}${(err.cause as ServiceError).details}${wire.toString("latin1")}`;
      return true;
    });
    assert.ok(rawDetails.length > 0);
    assert.ok(!rawDetails.includes("Atlantis"), "secret text crossed the wire");
    const logged = logger.records[0]?.error as Error;
    assert.ok((logged.cause as Error).message.includes("Atlantis"), "the cause is kept for the log");

    const seen: bigint[] = [];
    await assert.rejects(
      (async () => {
        for await (const r of client.getLogEntries({ start: 0n, end: 5n })) seen.push(r.entry?.index ?? -1n);
      })(),
      (err: unknown) =>
        err instanceof RpcError && err.code === "internal" && !err.message.includes("Atlantis"),
    );
    assert.deepEqual(seen, [0n]);
  });

  it("RetryInfo from a rate-limited handler reaches the client as retryAfterMs", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getCheckpoint() {
          throw new FakePackageError("rate_limited", "slow down", { retryAfterMs: 1500 });
        },
      }),
      { logger: recordingLogger() },
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    await assert.rejects(client.getCheckpoint({}), {
      code: "rate_limited",
      retryable: true,
      retryAfterMs: 1500,
    });
  });

  it("garbage request bytes answer INVALID_ARGUMENT naming the message, for unary and streams", async () => {
    let called = false;
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getMember() {
          called = true;
          return {};
        },
        // biome-ignore lint/correctness/useYield: the handler must never run on a malformed request
        async *getLogEntries() {
          called = true;
        },
      }),
      { logger: recordingLogger() },
    );
    // field 1 (string) claims 5 bytes but 1 follows; then an invalid wire type 7.
    for (const bytes of [Buffer.from([0x0a, 0x05, 0x41]), Buffer.from([0x0f, 0x01, 0x02])]) {
      const err = await rawUnary(srv.address, "/lineage.v1.Hub/GetMember", bytes);
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /malformed request: cannot decode lineage\.v1\.GetMemberRequest/);
    }
    const client = new Client(srv.address, credentials.createInsecure());
    const stream = client.makeServerStreamRequest(
      "/lineage.v1.Hub/GetLogEntries",
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from([0xff, 0xff]),
    );
    const streamErr = await new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    client.close();
    assert.equal(streamErr.code, status.INVALID_ARGUMENT);
    assert.equal(called, false, "the handler must not run on a malformed request");
  });

  it("a malformed message inside a client stream fails the call with INVALID_ARGUMENT", async () => {
    let received = 0;
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async uploadSketches(reqs) {
          for await (const _ of reqs) received++;
          return { accepted: received };
        },
      }),
      { logger: recordingLogger() },
    );
    const client = new Client(srv.address, credentials.createInsecure());
    const err = await new Promise<ServiceError | null>((resolve) => {
      const call = client.makeClientStreamRequest(
        "/lineage.v1.Hub/UploadSketches",
        (b: Buffer) => b,
        (b: Buffer) => b,
        (e) => resolve(e),
      );
      call.write(Buffer.alloc(0)); // a valid, empty UploadSketchesRequest
      call.write(Buffer.from([0x0a, 0x7f]));
      call.end();
    });
    client.close();
    assert.equal(err?.code, status.INVALID_ARGUMENT);
    assert.equal(received, 1);
  });

  it("oversized messages fail with RESOURCE_EXHAUSTED -> `too_large`, not retryable, in both directions", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getMember(req) {
          return { member: { memberId: req.memberId, displayName: "x".repeat(4096) } };
        },
      }),
      { maxReceiveMessageBytes: 2048, logger: recordingLogger() },
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    await assert.rejects(client.getMember({ memberId: "m".repeat(4096) }), {
      code: "too_large",
      retryable: false,
      grpcStatus: status.RESOURCE_EXHAUSTED,
    });
    using small = createClient(Hub, srv.address, insecureChannelCredentials(), {
      maxReceiveMessageBytes: 1024,
    });
    await assert.rejects(small.getMember({ memberId: "acme" }), { code: "too_large", retryable: false });
    using tightSend = createClient(Hub, srv.address, insecureChannelCredentials(), {
      maxSendMessageBytes: 100,
    });
    await assert.rejects(tightSend.getMember({ memberId: "m".repeat(200) }), { code: "too_large" });
    assert.ok((await client.getMember({ memberId: "acme" })).member?.displayName.length === 4096);
  });

  it("limits outside 1..64 MiB are refused at construction", () => {
    assert.throws(
      () => createClient(Hub, "127.0.0.1:1", insecureChannelCredentials(), { maxSendMessageBytes: 0 }),
      RangeError,
    );
  });
});
