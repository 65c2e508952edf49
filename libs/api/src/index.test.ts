// Checks that src/index.ts re-exports every generated symbol by name, and pins the service
// surface (names and streaming kinds) that the services and tests rely on.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as api from "./index.js";

const src = import.meta.dirname;

function genFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...genFiles(p));
    else if (name.endsWith("_pb.ts")) out.push(p);
  }
  return out;
}

describe("index", () => {
  it("re-exports every generated value and type by name", async () => {
    const indexText = readFileSync(join(src, "index.ts"), "utf8");
    const missing: string[] = [];
    const files = genFiles(join(src, "gen"));
    assert.ok(files.length >= 19, `expected the generated files, found ${files.length}`);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^export (const|enum|type) (\w+)/gm)) {
        const [, kind, name] = m;
        if (name === undefined) continue;
        if (kind === "type") {
          if (!new RegExp(`\\b${name}\\b`).test(indexText)) missing.push(`type ${name}`);
        } else if (!(name in api)) {
          missing.push(name);
        }
      }
    }
    assert.deepEqual(missing, [], "run `node libs/api/scripts/write-index.mjs` after `npm run gen`");
  });

  it("has the three services with the streaming kinds the flows need", () => {
    const kinds = (s: { method: Record<string, { methodKind: string }> }) =>
      Object.fromEntries(Object.entries(s.method).map(([k, m]) => [k, m.methodKind]));
    assert.equal(api.Hub.typeName, "lineage.v1.Hub");
    assert.equal(api.MemberNode.typeName, "lineage.v1.MemberNode");
    assert.equal(api.Auditor.typeName, "lineage.v1.Auditor");
    const hub = kinds(api.Hub);
    assert.equal(hub.getLogEntries, "server_streaming");
    assert.equal(hub.watchAlerts, "server_streaming");
    assert.equal(hub.uploadSketches, "client_streaming");
    assert.equal(hub.sessionChannel, "bidi_streaming");
    assert.equal(kinds(api.MemberNode).runMatchSession, "server_streaming");
    assert.deepEqual(Object.keys(api.Auditor.method).sort(), [
      "verifyBundle",
      "verifyConsistency",
      "verifyDisclosure",
    ]);
  });

  it("round-trips a signed session request through the wire encoding", () => {
    const msg = create(api.RunMatchSessionRequestSchema, {
      header: {
        memberId: "hub",
        sequence: 7n,
        nonce: new Uint8Array(16).fill(1),
        issuedAtMs: 1_700_000_000_000n,
        signature: new Uint8Array(64).fill(2),
      },
      session: {
        sessionId: "s-1",
        suspect: { target: { case: "endpoint", value: { baseUrl: "https://x.test", modelName: "m" } } },
      },
    });
    const back = fromBinary(
      api.RunMatchSessionRequestSchema,
      toBinary(api.RunMatchSessionRequestSchema, msg),
    );
    assert.equal(back.header?.sequence, 7n);
    assert.equal(back.session?.suspect?.target.case, "endpoint");
  });
});
