// Privacy of the protect flow (issue 9, "What it must never do"): everything the node sends while
// protecting — every NATS message on a real NATS server (captured by an independent subscriber on
// `lineage.>`), every gRPC response and error, every log line — is searched for every raw model response,
// every battery prompt, the endpoint's API key, the member's signing key and the epoch key. A positive
// control shows the search finds a secret where one is (the node's own database).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { ListProtectedModelsResponseSchema, ProtectModelResponseSchema } from "@lineage/api";
import { connectNatsBus } from "@lineage/bus";
import { insecureChannelCredentials, type RpcError } from "@lineage/rpc";
import pg from "pg";
import { connectMemberNode, jsonLineLogger, readMemberNodeConfig, startMemberNode } from "../src/index.js";
import {
  modelEndpoint,
  nodeFiles,
  serverTargets,
  testBattery,
  testMemberId,
  testSchema,
} from "./protect-fixture.js";

const targets = await serverTargets();
const skip = targets.pg.skip ?? targets.nats.skip;

/** Byte strings that must never leave the node, with a label for the failure message. */
function secretsOf(items: [string, string | Uint8Array][]): [string, Buffer][] {
  return items.map(([label, v]) => [label, typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v)]);
}

function findLeaks(haystacks: [string, Buffer][], secrets: [string, Buffer][]): string[] {
  const leaks: string[] = [];
  for (const [where, hay] of haystacks)
    for (const [label, s] of secrets) if (s.length > 0 && hay.includes(s)) leaks.push(`${label} in ${where}`);
  return leaks;
}

test(
  "[postgres+nats] nothing the node sends during protect holds a response, a prompt or a key",
  skip ? { skip } : {},
  async () => {
    const memberId = testMemberId();
    const schema = testSchema();
    const n = 25;
    const apiKey = `sk-live-${randomBytes(16).toString("hex")}`;
    await using endpoint = await modelEndpoint();
    const battery = testBattery(n);
    await using files = nodeFiles(memberId, endpoint, battery);
    const config = await readMemberNodeConfig(
      files.writeConfig({
        database: { postgres_url: targets.pg.url, schema },
        nats: { url: targets.nats.url, ensure_stream: true },
        adapters: {
          main: {
            base_url: endpoint.url,
            model: endpoint.model,
            api_key_env: "PRIVACY_TEST_KEY",
            concurrency: 4,
          },
        },
      }),
      {},
    );
    const sent: [string, Buffer][] = [];
    const logLines: string[] = [];
    const spy = await connectNatsBus({ servers: targets.nats.url as string, name: "privacy-spy" });
    const sub = await spy.subscribe("lineage.>", (e) => {
      sent.push([
        `NATS ${e.subject}`,
        Buffer.concat([Buffer.from(e.subject), Buffer.from(JSON.stringify(e.headers)), Buffer.from(e.data)]),
      ]);
    });
    let rows: { response: string }[] = [];
    try {
      await using node = await startMemberNode({
        config,
        env: { PRIVACY_TEST_KEY: apiKey },
        logger: jsonLineLogger((l) => logLines.push(l)),
        epochPollMs: 0,
      });
      using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
      const grpc = (label: string, bytes: Uint8Array) => sent.push([`gRPC ${label}`, Buffer.from(bytes)]);
      const errorOf = async (label: string, f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (err) {
          sent.push([
            `gRPC error ${label}`,
            Buffer.from(`${(err as RpcError).code} ${(err as Error).message}`),
          ]);
          return;
        }
        assert.fail(`${label} should fail`);
      };

      const ref = { memberId, modelId: "private-model" };
      for await (const p of client.protect({ model: ref, adapter: "main" }))
        grpc("ProtectModel", toBinary(ProtectModelResponseSchema, p));
      // Re-publish, list, node info, a failing run, bad requests, withdraw: everything the operator path sends.
      for await (const p of client.protect({ model: ref, adapter: "main" }))
        grpc("ProtectModel again", toBinary(ProtectModelResponseSchema, p));
      grpc("ListProtectedModels", toBinary(ListProtectedModelsResponseSchema, await client.listModels()));
      grpc(
        "GetNodeInfo",
        Buffer.from(JSON.stringify(await client.info(), (_k, v) => (typeof v === "bigint" ? String(v) : v))),
      );
      endpoint.failAfter = endpoint.prompts.length + 3;
      endpoint.failWith = 400;
      await errorOf("failing endpoint", async () => {
        for await (const p of client.protect({ model: { memberId, modelId: "flaky" }, adapter: "main" }))
          grpc("ProtectModel flaky", toBinary(ProtectModelResponseSchema, p));
      });
      endpoint.failWith = undefined;
      await errorOf("unknown adapter", async () => {
        for await (const _ of client.protect({ model: ref, adapter: "other" })) {
          // drain
        }
      });
      await errorOf("unknown model", () => client.withdraw({ model: { memberId, modelId: "nope" } }));
      const w = await client.withdraw({ model: ref, reason: "privacy test" });
      grpc("WithdrawModel", Buffer.from(w.epochIds.join(",")));
      rows = await node.deps.store.db.selectFrom("probe_results").select("response").execute();
    } finally {
      await new Promise((r) => setTimeout(r, 300)); // let the spy receive the last messages
      await sub.stop();
      await spy.close();
      const c = new pg.Client({ connectionString: targets.pg.url });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    }
    for (const l of logLines) sent.push(["log line", Buffer.from(l)]);

    // What must never leave: raw responses (as stored, and as the endpoint sent them), prompts, keys.
    const responses = rows
      .map((r) => (JSON.parse(r.response) as { text: string }).text)
      .filter((t) => t.length >= 12);
    assert.ok(responses.length >= n / 2, "the model answered with real text");
    const bodies = endpoint.bodies.map((b) => {
      const doc = JSON.parse(b) as { choices?: { text?: string; message?: { content?: string } }[] };
      return doc.choices?.[0]?.message?.content ?? doc.choices?.[0]?.text ?? "";
    });
    const pemBody = files.key
      .toPem()
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"))
      .join("");
    const der = Buffer.from(pemBody, "base64");
    const secrets = secretsOf([
      ...responses.map((t, i): [string, string] => [`response #${i}`, t]),
      ...bodies.filter((t) => t.length >= 12).map((t, i): [string, string] => [`endpoint body #${i}`, t]),
      ...battery.probes.map((p): [string, string] => [`prompt ${p.id}`, p.prompt]),
      ["API key", apiKey],
      ["signing key PEM", pemBody],
      ["signing key seed", der.subarray(der.length - 32)],
      ["signing key seed hex", der.subarray(der.length - 32).toString("hex")],
      ["epoch key", files.epochKey],
      ["epoch key hex", Buffer.from(files.epochKey).toString("hex")],
      ["epoch key base64", Buffer.from(files.epochKey).toString("base64")],
    ]);

    const announcements = sent.filter(([w]) => w.startsWith("NATS lineage.sketch."));
    assert.ok(announcements.length >= 2, "the spy saw the sketch and the withdrawal");
    assert.ok(
      sent.some(([w]) => w.startsWith("gRPC error")),
      "errors were captured",
    );
    assert.deepEqual(findLeaks(sent, secrets), []);

    // Positive control: the same search finds the raw responses in the node's own rows.
    const controls = findLeaks(
      [["probe_results", Buffer.from(rows.map((r) => r.response).join("\n"))]],
      secrets,
    );
    assert.ok(controls.length >= responses.length, "the search finds secrets where they are");
  },
);
