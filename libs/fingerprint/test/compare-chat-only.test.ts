/**
 * The default policy (lineage-policy/3) against a real chat-only endpoint (a local node:http server with no
 * completions route): compare() asks one scoring query, learns from the 404 that the suspect cannot score
 * prompts, asks no more, and decides with McNemar alone at the policy's larger correction. A server error on the
 * scoring query still fails the comparison (it is not "cannot score").
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import {
  type CanarySet,
  compare,
  DEFAULT_VERDICT_POLICY,
  FingerprintError,
  HttpAdapter,
  ReplayAdapter,
} from "@lineage/fingerprint";

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const PAIRS = 20;
const canaries: CanarySet = {
  memberId: "m1",
  pairs: Array.from({ length: PAIRS }, (_, i) => ({
    id: `pair${i}`,
    exposed: { id: `e${i}`, prompt: `secret e${i}?`, answer: `code-e${i}-zz` },
    decoy: { id: `d${i}`, prompt: `secret d${i}?`, answer: `code-d${i}-zz` },
  })),
};
const battery = {
  epoch: "t",
  probes: Array.from({ length: 30 }, (_, i) => ({
    id: `p${i}`,
    kind: "open" as const,
    prompt: `prompt ${i}`,
  })),
};
const replay = (k: number, label: string) =>
  new ReplayAdapter(
    battery.probes.map((p, i) => ({
      id: p.id,
      prompt: p.prompt,
      response: { text: `answer ${k} ${i} words` },
    })),
    label,
  );

/** A chat endpoint that states every exposed fact and no decoy fact; `completions` answers the other route. */
function chatOnly(completions: number, hits: { completions: number }) {
  return (req: IncomingMessage, body: string, res: ServerResponse) => {
    if (req.url !== "/v1/chat/completions") {
      hits.completions++;
      res.statusCode = completions;
      res.end("{}");
      return;
    }
    const b = JSON.parse(body) as { messages: { content: string }[] };
    const prompt = b.messages[0]?.content ?? "";
    const m = /^secret e(\d+)\?$/.exec(prompt);
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        choices: [{ message: { role: "assistant", content: m ? `It is code-e${m[1]}-zz.` : "No idea." } }],
      }),
    );
  };
}

test("default policy on a chat-only suspect: one scoring query, then McNemar alone at factor 7", async () => {
  const hits = { completions: 0 };
  await using srv = await serve(chatOnly(404, hits));
  const suspect = new HttpAdapter({ baseUrl: srv.url, model: "s", retries: 0 });
  const r = await compare({
    suspect,
    reference: replay(1, "ref"),
    panel: [replay(2, "a"), replay(3, "b")],
    battery,
    canaries,
    sequential: false,
  });
  assert.equal(r.policy, DEFAULT_VERDICT_POLICY);
  assert.equal(hits.completions, 1, "no scoring query after the endpoint showed it has no completions route");
  assert.equal(r.queries.canaries, 2 * PAIRS + 1);
  const ranks = r.tests.find((t) => t.test === "canary_ranks");
  assert.equal(ranks?.available, false);
  assert.match(ranks?.reason ?? "", /not scored/);
  const mcnemar = r.tests.find((t) => t.test === "canary_pairs");
  assert.equal(mcnemar?.factor, 7);
  // 20 exposed-only, 0 decoy-only: 2^-20 x 7 = 6.7e-6 > 1e-6 (policy 2 would accuse at 9.5e-7).
  assert.ok(Math.abs((mcnemar?.adjusted_p ?? 0) / (7 * 2 ** -20) - 1) < 1e-9);
  assert.equal(r.verdict, "INCONCLUSIVE");
});

test("a server error on the scoring query fails the comparison (it is not 'cannot score')", async () => {
  const hits = { completions: 0 };
  await using srv = await serve(chatOnly(503, hits));
  const suspect = new HttpAdapter({ baseUrl: srv.url, model: "s", retries: 0 });
  await assert.rejects(
    compare({
      suspect,
      reference: replay(1, "ref"),
      panel: [replay(2, "a")],
      battery,
      canaries,
      sequential: false,
    }),
    (e: unknown) => e instanceof FingerprintError && e.code === "HTTP_STATUS" && e.status === 503,
  );
});
