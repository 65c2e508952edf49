/**
 * Per-client limits of GetLogEntries over real gRPC (issue 8: "per-client stream limits"): a client's
 * concurrent streams and the bytes one call sends are bounded, answered RESOURCE_EXHAUSTED with a message
 * that says what to do; a slot is freed when a stream ends or is cancelled.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { CaseState, Hub } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { createClient, insecureChannelCredentials, insecureServerCredentials, RpcError } from "@lineage/rpc";
import { type HubDatabase, hubMigrations, openTestStore } from "@lineage/store";
import { startHubServer, TransparencyLog } from "../src/index.js";
import { peerHost } from "../src/log/stream-limits.js";

const ORIGIN = "lineage.test/read-limits";

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}

test("GetLogEntries: concurrent streams per client and bytes per call are bounded (RESOURCE_EXHAUSTED)", async () => {
  await using store = await openTestStore<HubDatabase>("pglite-memory");
  await store.migrate(hubMigrations);
  await using log = await TransparencyLog.open({
    store,
    origin: ORIGIN,
    hubKey: Ed25519PrivateKey.generate(),
    checkpointIntervalMs: 3_600_000,
  });
  const N = 1500;
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      log.appendReviewDecision({
        caseId: `case-${String(i).padStart(5, "0")}`,
        fromState: CaseState.OPEN,
        toState: CaseState.UNDER_REVIEW,
        reviewer: "reviewer-1",
        rationale: "x".repeat(400),
        decidedAt: timestampFromMs(Date.now()),
      }),
    ),
  );
  // A budget of 100 whole entries and half of the 101st.
  const first = (await log.entries(0, 101)).map((e) => e.leaf.length);
  const maxBytesPerCall = first.slice(0, 100).reduce((a, b) => a + b, 0) + Math.floor((first[100] ?? 0) / 2);
  await using server = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
    logReads: { streams: { maxStreamsPerPeer: 1, maxBytesPerCall: 10 * 1024 * 1024 } },
  });
  using client = createClient(Hub, server.address, insecureChannelCredentials());

  // One stream held open (the client reads one entry and stops reading: the server waits on flow control).
  const ac = new AbortController();
  const held = client
    .getLogEntries({ start: 0n, end: BigInt(N) }, { signal: ac.signal })
    [Symbol.asyncIterator]();
  const firstEntry = await held.next();
  assert.equal(firstEntry.value?.entry?.index, 0n);
  const second = await rpcError(
    (async () => {
      for await (const _ of client.getLogEntries({ start: 0n, end: 10n })) {
      }
    })(),
  );
  assert.equal(second.grpcStatus, status.RESOURCE_EXHAUSTED);
  assert.equal(second.code, "rate_limited");
  assert.ok(second.retryable, "a retry after the other stream ends can succeed");
  assert.match(second.message, /at most 1 concurrent GetLogEntries streams per client/);
  // Cancelling the held stream frees its slot.
  ac.abort();
  await held.return?.();
  let ok = 0;
  for (let attempt = 0; attempt < 50 && ok === 0; attempt++) {
    try {
      for await (const _ of client.getLogEntries({ start: 0n, end: 10n })) ok++;
    } catch (err) {
      if (!(err instanceof RpcError && err.code === "rate_limited")) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.equal(ok, 10, "after the cancel, the client streams again");
  await server.close();

  // Bytes per call: a second server with a byte budget of 100.5 leaves.
  await using small = await startHubServer({
    log,
    listen: "127.0.0.1:0",
    credentials: insecureServerCredentials(),
    logReads: { streams: { maxBytesPerCall } },
  });
  using client2 = createClient(Hub, small.address, insecureChannelCredentials());
  const got: bigint[] = [];
  const big = await rpcError(
    (async () => {
      for await (const r of client2.getLogEntries({ start: 0n, end: 1000n })) got.push(r.entry?.index ?? -1n);
    })(),
  );
  assert.equal(big.grpcStatus, status.RESOURCE_EXHAUSTED);
  assert.equal(big.code, "too_large");
  assert.equal(got.length, 100, "the stream stopped before the entry that would cross the budget");
  assert.match(big.message, /ask again with start=100/);
});

test("peerHost counts a client by its address, not its port", () => {
  assert.equal(peerHost("ipv4:127.0.0.1:5000"), "ipv4:127.0.0.1");
  assert.equal(peerHost("ipv4:127.0.0.1:6000"), "ipv4:127.0.0.1");
  assert.equal(peerHost("ipv6:[::1]:5000"), "ipv6:::1");
  assert.equal(peerHost("unix:/tmp/sock"), "unix:/tmp/sock");
});
