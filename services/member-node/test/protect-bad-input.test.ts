// Bad input at arrival on a live node (embedded default): who may call write RPCs, malformed and
// oversized requests, unknown models, and endpoint or battery configurations that cannot work — each
// refused with its gRPC status before any probing (the counting proxy sees no generation request).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { MemberNode, ProtectModelRequestSchema } from "@lineage/api";
import { Ed25519PrivateKey } from "@lineage/crypto";
import { createClient, insecureChannelCredentials, methodPath, type RpcError } from "@lineage/rpc";
import {
  connectMemberNode,
  type MemberNode as RunningNode,
  readMemberNodeConfig,
  setAdminAuth,
  signAdminRequest,
  silentNodeLogger,
  startMemberNode,
} from "../src/index.js";
import {
  type ModelEndpoint,
  modelEndpoint,
  type NodeFiles,
  nodeFiles,
  testBattery,
} from "./protect-fixture.js";

const memberId = "acme";
let endpoint: ModelEndpoint;
let files: NodeFiles;
let node: RunningNode;

before(async () => {
  endpoint = await modelEndpoint();
  files = nodeFiles(memberId, endpoint, testBattery(10));
  const config = await readMemberNodeConfig(
    files.writeConfig({
      adapters: {
        main: { base_url: endpoint.url, model: endpoint.model },
        closed: { base_url: "http://127.0.0.1:1", model: endpoint.model },
        keyed: { base_url: endpoint.url, model: endpoint.model, api_key_env: "ACME_KEY_NOT_SET" },
        wrongmodel: { base_url: endpoint.url, model: "no-such-model" },
      },
    }),
    {},
  );
  node = await startMemberNode({ config, env: {}, logger: silentNodeLogger, epochPollMs: 0 });
});
after(async () => {
  await node?.close();
  await endpoint?.close();
  await files?.[Symbol.asyncDispose]();
});

async function protectError(
  req: Parameters<ReturnType<typeof connectMemberNode>["protect"]>[0],
  key: Ed25519PrivateKey = files.key,
): Promise<RpcError> {
  using client = connectMemberNode(node.address, insecureChannelCredentials(), key, memberId);
  try {
    for await (const _ of client.protect(req)) {
      // drain
    }
  } catch (err) {
    return err as RpcError;
  }
  throw new Error("protect did not fail");
}

const model = (modelId = "m1", extra: Record<string, string> = {}) => ({ memberId, modelId, ...extra });
const PATH = methodPath(MemberNode.methods.find((m) => m.localName === "protectModel") as never);

test("unauthenticated write RPCs: no credentials, a stranger's key, a replayed or stale signature, a signature over another request", async () => {
  const raw = createClient(MemberNode, node.address, insecureChannelCredentials());
  const drain = async (
    md?: Metadata,
    req = create(ProtectModelRequestSchema, { model: model(), adapter: "main" }),
  ) => {
    try {
      for await (const _ of raw.protectModel(req, md ? { metadata: md } : {})) {
        // drain
      }
      return undefined;
    } catch (err) {
      return err as RpcError;
    }
  };
  try {
    assert.equal((await drain())?.code, "unauthenticated");
    assert.equal(
      (await protectError({ model: model(), adapter: "main" }, Ed25519PrivateKey.generate())).code,
      "unauthenticated",
    );

    const req = create(ProtectModelRequestSchema, { model: model("m-replay"), adapter: "closed" });
    const sig = signAdminRequest(PATH, ProtectModelRequestSchema, req, files.key, memberId);
    const first = await drain(setAdminAuth(new Metadata(), sig), req);
    assert.equal(first?.code, "failed_precondition", "authenticated, then refused for the closed endpoint");
    const replay = await drain(setAdminAuth(new Metadata(), sig), req);
    assert.equal(replay?.code, "unauthenticated");
    assert.match(replay?.message ?? "", /replayed/);

    const other = create(ProtectModelRequestSchema, { model: model("m-other"), adapter: "main" });
    const swapped = await drain(
      setAdminAuth(
        new Metadata(),
        signAdminRequest(PATH, ProtectModelRequestSchema, req, files.key, memberId),
      ),
      other,
    );
    assert.equal(swapped?.code, "unauthenticated", "a signature binds the request it was made for");

    const stale = signAdminRequest(
      PATH,
      ProtectModelRequestSchema,
      req,
      files.key,
      memberId,
      () => Date.now() - 3_600_000,
    );
    assert.equal((await drain(setAdminAuth(new Metadata(), stale), req))?.code, "unauthenticated");

    const garbage = new Metadata();
    garbage.set("lineage-admin-auth-bin", Buffer.from("not a header"));
    assert.equal((await drain(garbage))?.code, "unauthenticated");

    // List and withdraw are admin RPCs too; GetNodeInfo is public and lists no secrets.
    await assert.rejects(raw.listProtectedModels({}), (e: RpcError) => e.code === "unauthenticated");
    await assert.rejects(
      raw.withdrawModel({ model: model() }),
      (e: RpcError) => e.code === "unauthenticated",
    );
    const info = await raw.getNodeInfo({});
    assert.equal(info.memberId, memberId);
    assert.deepEqual(info.keyIds, [files.key.keyId]);
  } finally {
    raw.close();
  }
  assert.equal(endpoint.prompts.length, 0, "nothing was probed");
});

test("malformed and oversized requests answer INVALID_ARGUMENT naming the field", async () => {
  const cases: [Parameters<ReturnType<typeof connectMemberNode>["protect"]>[0], RegExp][] = [
    [{ adapter: "main" }, /model is required/],
    [{ model: { memberId: "globex", modelId: "m1" }, adapter: "main" }, /member_id must be this node's/],
    [{ model: model("bad model id!"), adapter: "main" }, /model_id/],
    [{ model: model("x".repeat(129)), adapter: "main" }, /model_id/],
    [{ model: model("m1", { modelVersion: "v".repeat(65) }), adapter: "main" }, /model_version/],
    [{ model: model("m1", { modelVersion: "line\nbreak" }), adapter: "main" }, /model_version/],
    [{ model: model(), adapter: "" }, /adapter/],
    [{ model: model(), adapter: "nope" }, /adapter nope is not configured/],
    [{ model: model(), adapter: "main", epochId: "e 1" }, /epoch_id/],
  ];
  for (const [req, re] of cases) {
    const err = await protectError(req);
    assert.equal(err.code, "invalid_argument", `${JSON.stringify(req)}: ${err.message}`);
    assert.match(err.message, re);
  }
  // Larger than the server's receive limit: refused by the transport, before the handler.
  const huge = await protectError({
    model: model("m1", { modelVersion: "v".repeat(8 * 1024 * 1024) }),
    adapter: "main",
  });
  assert.equal(huge.grpcStatus, 8, `RESOURCE_EXHAUSTED, got ${huge.code}`);
  using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
  await assert.rejects(
    client.withdraw({ model: model(), reason: "r".repeat(1025) }),
    (e: RpcError) => e.code === "not_found" || e.code === "invalid_argument",
  );
  assert.equal(endpoint.prompts.length, 0);
});

test("unknown model -> NOT_FOUND; unknown epoch -> NOT_FOUND", async () => {
  using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
  await assert.rejects(client.withdraw({ model: model("never-protected") }), (e: RpcError) => {
    assert.equal(e.code, "not_found");
    assert.match(e.message, /never-protected is not protected/);
    return true;
  });
  const err = await protectError({ model: model(), adapter: "main", epochId: "e9" });
  assert.equal(err.code, "not_found");
  assert.equal(endpoint.prompts.length, 0);
});

test("an endpoint that cannot work is refused before any probing: unreachable, missing API key, model not served", async () => {
  for (const [adapter, re] of [
    ["closed", /cannot be reached/],
    ["keyed", /ACME_KEY_NOT_SET .*is not set/],
    ["wrongmodel", /does not serve model 'no-such-model'/],
  ] as const) {
    const err = await protectError({ model: model(`m-${adapter}`), adapter });
    assert.equal(err.code, "failed_precondition", `${adapter}: ${err.message}`);
    assert.match(err.message, re);
  }
  assert.equal(endpoint.prompts.length, 0, "no generation request was sent");
  const rows = await node.deps.store.db.selectFrom("probe_results").selectAll().execute();
  assert.equal(rows.length, 0);
});

test("an endpoint failing mid-run: UNAVAILABLE with the count reached; the answers so far are kept and the rerun resumes", async () => {
  using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
  endpoint.failAfter = endpoint.prompts.length + 4;
  endpoint.failWith = 400;
  const err = await protectError({ model: model("m-flaky"), adapter: "main" });
  endpoint.failWith = undefined;
  assert.equal(err.code, "unavailable");
  assert.match(err.message, /probing stopped after \d of 10 probes.*run protect again/);
  const kept = await node.deps.store.db.selectFrom("probe_results").select("probe_index").execute();
  assert.ok(kept.length >= 1 && kept.length <= 4, `answers kept: ${kept.length}`);
  // Requests the node aborted when the first one failed may still reach the proxy: let them land.
  await new Promise((r) => setTimeout(r, 300));
  const before = endpoint.prompts.length;
  let last: { probesDone: number } | undefined;
  for await (const p of client.protect({ model: model("m-flaky"), adapter: "main" })) last = p;
  assert.equal(last?.probesDone, 10);
  assert.equal(
    endpoint.prompts.length - before,
    10 - kept.length,
    "only the unanswered probes are asked again",
  );
});

test("a second protect of a model while one runs -> ALREADY_EXISTS; the first finishes", async () => {
  using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
  const first = client.protect({ model: model("m-busy"), adapter: "main" })[Symbol.asyncIterator]();
  await first.next(); // the node has started it
  const err = await protectError({ model: model("m-busy"), adapter: "main" });
  assert.equal(err.code, "already_exists");
  assert.match(err.message, /already running/);
  let last: { probesDone: number } | undefined;
  for (let r = await first.next(); !r.done; r = await first.next()) last = r.value;
  assert.equal(last?.probesDone, 10);
});
