// Unary, server-streaming, client-streaming and bidi calls through a real grpc-js server serving
// the generated lineage.v1.Hub service; deadlines and cancellation in both directions.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Hub, type MatchSessionProgressSchema } from "@lineage/api";
import { createClient, insecureChannelCredentials, RpcError, withUnimplemented } from "../src/index.js";
import { recordingLogger, startServer } from "./fixtures.js";

function waitAbort(signal: AbortSignal, ms: number): Promise<"aborted" | "timeout"> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve("timeout"), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve("aborted");
    });
  });
}

async function* items<T>(xs: readonly T[]): AsyncIterable<T> {
  for (const x of xs) yield x;
}

describe("calls against a real Hub server", () => {
  it("unary: request and response cross as typed messages, context has peer and metadata", async () => {
    let seen: { peer: string; trace: unknown; deadline: Date | undefined } | undefined;
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getMember(req, ctx) {
          seen = { peer: ctx.peer, trace: ctx.metadata.get("x-trace")[0], deadline: ctx.deadline };
          return { member: { memberId: req.memberId, displayName: `Member ${req.memberId}` } };
        },
      }),
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const { Metadata } = await import("@grpc/grpc-js");
    const md = new Metadata();
    md.set("x-trace", "t-1");
    const res = await client.getMember({ memberId: "acme" }, { metadata: md, timeoutMs: 5000 });
    assert.equal(res.member?.displayName, "Member acme");
    assert.equal(res.$typeName, "lineage.v1.GetMemberResponse");
    assert.match(seen?.peer ?? "", /127\.0\.0\.1/);
    assert.equal(seen?.trace, "t-1");
    assert.ok(seen?.deadline instanceof Date);
  });

  it("server streaming: entries arrive in order, one message each", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async *getLogEntries(req) {
          for (let i = req.start; i < req.end; i++)
            yield { entry: { index: i, leaf: new Uint8Array([Number(i)]) } };
        },
      }),
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const got: bigint[] = [];
    for await (const r of client.getLogEntries({ start: 3n, end: 203n })) got.push(r.entry?.index ?? -1n);
    assert.equal(got.length, 200);
    assert.equal(got[0], 3n);
    assert.equal(got[199], 202n);
  });

  it("server streaming: breaking out early cancels the call and aborts the handler's signal", async () => {
    let handlerSaw: Promise<"aborted" | "timeout"> | undefined;
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async *watchAlerts(_req, ctx) {
          handlerSaw = waitAbort(ctx.signal, 5000);
          for (let seq = 1n; !ctx.signal.aborted; seq++) {
            yield { alert: { sequence: seq, summary: "x" } };
            await sleep(5);
          }
        },
      }),
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    let n = 0;
    for await (const _ of client.watchAlerts({})) if (++n === 3) break;
    assert.equal(n, 3);
    assert.equal(await handlerSaw, "aborted");
  });

  it("client streaming: the handler reads every message and answers once", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async uploadSketches(reqs) {
          const ids: string[] = [];
          for await (const r of reqs) ids.push(`sk-${r.header?.sequence}`);
          return { accepted: ids.length, sketchIds: ids };
        },
      }),
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const reqs = Array.from({ length: 50 }, (_, i) => ({
      header: { memberId: "acme", sequence: BigInt(i) },
    }));
    const res = await client.uploadSketches(items(reqs));
    assert.equal(res.accepted, 50);
    assert.equal(res.sketchIds[49], "sk-49");
  });

  it("bidi: the hub pushes session requests while the member streams progress", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async *sessionChannel(reqs) {
          for await (const r of reqs) {
            if (r.body.case === "open") {
              yield { session: { sessionId: "s-open", maxQueries: r.body.value.maxConcurrentSessions } };
            } else if (r.body.case === "progress") {
              yield {
                session: { sessionId: `${r.body.value.sessionId}-ack`, maxQueries: r.body.value.queriesDone },
              };
            }
          }
        },
      }),
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const progress = (
      sessionId: string,
      queriesDone: number,
    ): MessageInitShape<typeof MatchSessionProgressSchema> => ({
      sessionId,
      queriesDone,
    });
    const out = client.sessionChannel(
      items([
        { body: { case: "open" as const, value: { maxConcurrentSessions: 4 } } },
        { body: { case: "progress" as const, value: progress("s-1", 10) } },
        { body: { case: "progress" as const, value: progress("s-2", 20) } },
      ]),
    );
    const got: string[] = [];
    for await (const r of out) got.push(`${r.session?.sessionId}:${r.session?.maxQueries}`);
    assert.deepEqual(got, ["s-open:4", "s-1-ack:10", "s-2-ack:20"]);
  });

  it("deadline exceeded: the client fails with a retryable `timeout` and the handler's signal aborts", async () => {
    let handlerSaw: Promise<"aborted" | "timeout"> | undefined;
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getCheckpoint(_req, ctx) {
          handlerSaw = waitAbort(ctx.signal, 5000);
          await handlerSaw;
          return {};
        },
      }),
      { logger: recordingLogger() },
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const started = Date.now();
    await assert.rejects(client.getCheckpoint({}, { timeoutMs: 150 }), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, "timeout");
      assert.equal(err.retryable, true);
      return true;
    });
    assert.ok(Date.now() - started < 3000);
    assert.equal(await handlerSaw, "aborted");
  });

  it("a client default timeout applies when a call sets none; a streaming call times out too", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getCheckpoint(_req, ctx) {
          await waitAbort(ctx.signal, 5000);
          return {};
        },
        async *watchAlerts(_req, ctx) {
          yield { alert: { sequence: 1n } };
          await waitAbort(ctx.signal, 5000);
        },
      }),
      { logger: recordingLogger() },
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials(), { defaultTimeoutMs: 100 });
    await assert.rejects(client.getCheckpoint({}), { code: "timeout" });
    const seen: bigint[] = [];
    await assert.rejects(
      (async () => {
        for await (const r of client.watchAlerts({})) seen.push(r.alert?.sequence ?? 0n);
      })(),
      { code: "timeout" },
    );
    assert.deepEqual(seen, [1n]);
  });

  it("an AbortSignal cancels a call with code `cancelled` (not retryable)", async () => {
    await using srv = await startServer(
      Hub,
      withUnimplemented(Hub, {
        async getCheckpoint(_req, ctx) {
          await waitAbort(ctx.signal, 5000);
          return {};
        },
      }),
    );
    using client = createClient(Hub, srv.address, insecureChannelCredentials());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(client.getCheckpoint({}, { signal: ac.signal }), {
      code: "cancelled",
      retryable: false,
    });
    await assert.rejects(client.getCheckpoint({}, { signal: ac.signal }), { code: "cancelled" });
  });

  it("an unreachable server fails with a retryable `unavailable`", async () => {
    let port: number;
    {
      await using srv = await startServer(Hub, withUnimplemented(Hub, {}));
      port = srv.port;
    }
    using client = createClient(Hub, `127.0.0.1:${port}`, insecureChannelCredentials());
    await assert.rejects(client.getCheckpoint({}, { timeoutMs: 2000 }), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.ok(err.code === "unavailable" || err.code === "timeout", err.code);
      assert.equal(err.retryable, true);
      return true;
    });
  });
});
