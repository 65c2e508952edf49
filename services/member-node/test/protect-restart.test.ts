// Kill -9 mid-probe, restart, finish: the node runs in its own process; it is killed while probing and
// started again on the same database; protect resumes from the stored answers, asks the endpoint only for
// the probes it had not stored, and ends with exactly one stored answer per probe. On the embedded default
// (the killed process's PGlite lock is reclaimed) and on Postgres + NATS.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { test } from "node:test";
import { ProtectPhase } from "@lineage/api";
import { insecureChannelCredentials } from "@lineage/rpc";
import { type MemberNodeDatabase, openStore } from "@lineage/store";
import pg from "pg";
import { connectMemberNode, readMemberNodeConfig } from "../src/index.js";
import {
  modelEndpoint,
  nodeFiles,
  serverTargets,
  testBattery,
  testMemberId,
  testSchema,
} from "./protect-fixture.js";

const tsx = import.meta.resolve("tsx");
const script = join(import.meta.dirname, "node-process.ts");

async function spawnNode(
  configFile: string,
): Promise<{ child: ChildProcess; address: string; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=lineage-source", "--import", tsx, script, configFile],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  let out = "";
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start: ${err}`)), 60_000);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n")[0] as string;
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { address: string }).address);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited (${code}): ${err}`));
    });
  });
  return { child, address, stderr: () => err };
}

const targets = await serverTargets();
const backends = [
  { name: "pglite+in-process", config: () => ({}) },
  {
    name: "postgres+nats",
    skip: targets.pg.skip ?? targets.nats.skip,
    pgUrl: targets.pg.url,
    config: (schema: string) => ({
      database: { postgres_url: targets.pg.url, schema },
      nats: { url: targets.nats.url, ensure_stream: true },
    }),
  },
];

for (const backend of backends) {
  test(
    `[${backend.name}] kill -9 mid-probe, restart: protect resumes, no probe asked or stored twice, SIGTERM stops cleanly`,
    backend.skip ? { skip: backend.skip } : {},
    async () => {
      const memberId = testMemberId();
      const schema = testSchema();
      const n = 60;
      await using endpoint = await modelEndpoint();
      await using files = nodeFiles(memberId, endpoint, testBattery(n));
      const configFile = files.writeConfig({
        ...backend.config(schema),
        adapters: {
          main: { base_url: endpoint.url, model: endpoint.model, concurrency: 2, rate_per_second: 25 },
        },
      });
      try {
        const ref = { memberId, modelId: "restart-model" };
        let node = await spawnNode(configFile);
        {
          using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
          await assert.rejects(async () => {
            for await (const p of client.protect({ model: ref, adapter: "main" })) {
              if (p.phase === ProtectPhase.PROBING && p.probesDone >= 15) node.child.kill("SIGKILL");
            }
          });
          if (node.child.exitCode === null && node.child.signalCode === null) await once(node.child, "exit");
          assert.equal(node.child.signalCode, "SIGKILL");
        }
        await new Promise((r) => setTimeout(r, 300)); // requests aborted by the kill may still land
        const askedBefore = endpoint.prompts.length;
        assert.ok(askedBefore < n, "killed before the end");

        node = await spawnNode(configFile);
        let resumedFrom = -1;
        let last = 0;
        {
          using client = connectMemberNode(node.address, insecureChannelCredentials(), files.key, memberId);
          for await (const p of client.protect({ model: ref, adapter: "main" })) {
            if (p.phase === ProtectPhase.PROBING && resumedFrom < 0) resumedFrom = p.probesDone;
            last = p.probesDone;
          }
        }
        assert.ok(resumedFrom >= 15, `resumed from the stored answers (${resumedFrom})`);
        assert.equal(last, n);
        assert.equal(
          endpoint.prompts.length - askedBefore,
          n - resumedFrom,
          "only unanswered probes were asked after the restart",
        );
        assert.match(node.stderr(), /"event":"protect.resume"/);

        node.child.kill("SIGTERM");
        const [code] = (await once(node.child, "exit")) as [number | null];
        assert.equal(code, 0, node.stderr());
        assert.match(node.stderr(), /"event":"node.stopped"/);

        const config = await readMemberNodeConfig(configFile, {});
        await using store = await openStore<MemberNodeDatabase>(
          config.database.kind === "postgres"
            ? { kind: "postgres", url: config.database.url, schema }
            : { kind: "pglite", dataDir: config.database.dataDir },
        );
        const rows = await store.db.selectFrom("probe_results").select("probe_index").execute();
        assert.equal(rows.length, n);
        assert.equal(new Set(rows.map((r) => r.probe_index)).size, n);
        const published = await store.db.selectFrom("published_sketches").selectAll().execute();
        assert.equal(published.length, 1);
      } finally {
        if (backend.pgUrl) {
          const c = new pg.Client({ connectionString: backend.pgUrl });
          await c.connect();
          await c.query(`drop schema if exists ${schema} cascade`);
          await c.end();
        }
      }
    },
  );
}
