/**
 * Member-node benchmark (issue 9, "Done means"):
 *
 *   npm run bench:node [-- --json FILE] [--probes N] [--concurrency C]
 *
 * 1. sketches_per_s: sketches of a 1,000-probe battery per second on one core (this process is single
 *    threaded), libs/fingerprint buildSketch at SKETCH_VERSION (2: AES block digests); on a shared machine
 *    read sketches_per_cpu_s, which other load barely moves; and node_publish_path_per_s: the node's whole path per sketch
 *    (build, convert to lineage.v1.Sketch, encode, DSSE-sign, sign the announcement header). Responses are
 *    real text: testbed corpus sentences, ~3 per response.
 * 2. probes_per_s: a real testbed model behind the OpenAI-compatible HTTP server on 127.0.0.1, protected by
 *    a real node (startMemberNode on the embedded PGlite + in-process bus: each answer stored as it arrives,
 *    then the sketch built and published) with C requests in flight, timed from the ProtectModel call to
 *    its last message; and adapter_probes_per_s, the bare HTTP adapter over the same server and battery.
 * Prints the figures and writes them as JSON with --json FILE.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { SketchAnnouncementSchema } from "@lineage/api";
import { Ed25519PrivateKey, newNonce, signEnvelope, signMessage } from "@lineage/crypto";
import {
  askAll,
  type Battery,
  buildSketch,
  createSketchContext,
  HttpAdapter,
  SKETCH_VERSION,
  type SketchProbeInput,
} from "@lineage/fingerprint";
import {
  connectMemberNode,
  readMemberNodeConfig,
  SKETCH_PAYLOAD_TYPE,
  silentNodeLogger,
  sketchPayload,
  sketchToProto,
  startMemberNode,
} from "@lineage/member-node";
import { insecureChannelCredentials } from "@lineage/rpc";
import { loadCorpus, NgramCounts, serveTestbed, TestbedModel } from "@lineage/testbed";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) {
    console.error(`bench/node: ${name} needs a value`);
    process.exit(2);
  }
  return v;
}
function intFlag(name: string, dflt: number, min: number, max: number): number {
  const raw = flag(name);
  const v = raw === undefined ? dflt : Number(raw);
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    console.error(`bench/node: ${name} must be an integer in ${min}..${max}`);
    process.exit(2);
  }
  return v;
}
const jsonFile = flag("--json");
const probesN = intFlag("--probes", 1000, 10, 4096);
const concurrency = intFlag("--concurrency", 64, 1, 256);

const corpus = loadCorpus();
const SKETCH_PROBES = 1000;

if (args.includes("--serve-testbed")) {
  // Child mode: serve a real testbed model until the parent goes away.
  const counts = new NgramCounts(3);
  for (const s of corpus.public.slice(0, 1500)) counts.addSequence(corpus.tokens(s));
  const tb = new TestbedModel("bench-model", counts.compile());
  const server = await serveTestbed({ models: [tb] });
  process.stdout.write(`${JSON.stringify({ url: server.url, model: tb.id })}\n`);
  // The parent holds our stdin open; when it exits (or is killed) stdin ends and so do we.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  await new Promise(() => {});
}

// 1. Sketch throughput on a 1,000-probe battery of real sentences.
const inputs: SketchProbeInput[] = [];
for (let i = 0; i < SKETCH_PROBES; i++) {
  const text = corpus.public.slice(6000 + 3 * i, 6003 + 3 * i).join(" ");
  const kind = i % 5 === 1 ? "edge" : "open";
  inputs.push(
    kind === "edge"
      ? { probeId: `p${i}`, kind, text, reference: "a reference answer" }
      : { probeId: `p${i}`, kind, text },
  );
}
const words = inputs.reduce((n, p) => n + p.text.split(" ").length, 0);
const ctx = createSketchContext(new Uint8Array(randomBytes(32)), "bench-node-1");
const key = Ed25519PrivateKey.generate();
const probeIndex = new Map(inputs.map((p, i) => [p.probeId, i]));
const model = { memberId: "bench", modelId: "bench-model", modelVersion: "1" };

/** CPU seconds this process used since `from` (user + system): a figure the machine's other load barely moves. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

/** Runs `body` for at least `minMs`; returns [per wall second, per CPU second]. */
function timeLoop(minMs: number, body: () => void): [number, number] {
  body(); // warm-up
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    body();
    n++;
  }
  return [n / ((performance.now() - t0) / 1000), n / cpuSeconds(cpu0)];
}
const [sketchesPerS, sketchesPerCpuS] = timeLoop(3000, () => buildSketch(inputs, ctx));
let seq = 0n;
const [publishPathPerS, publishPathPerCpuS] = timeLoop(3000, () => {
  const sketch = buildSketch(inputs, ctx);
  const message = sketchToProto(sketch, inputs, ctx, probeIndex, model, Date.now());
  const { payload } = sketchPayload(message);
  const env = signEnvelope(SKETCH_PAYLOAD_TYPE, payload, key);
  const ann = create(SketchAnnouncementSchema, {
    sketch: { payloadType: env.payloadType, payload: env.payload, signatures: [...env.signatures] },
  });
  seq++;
  signMessage(
    SketchAnnouncementSchema.typeName,
    { memberId: "bench", sequence: seq, nonce: newNonce(), issuedAtMs: Date.now() },
    toBinary(SketchAnnouncementSchema, ann),
    key,
  );
});

// 2. Probe throughput against a local testbed server, in its own process (its generation work would
// otherwise share this process's one thread with the node being measured).
const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, "--serve-testbed"], {
  stdio: ["pipe", "pipe", "inherit"],
});
const served = await new Promise<{ url: string; model: string }>((resolve, reject) => {
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
    if (out.includes("\n"))
      resolve(JSON.parse(out.split("\n")[0] as string) as { url: string; model: string });
  });
  child.once("exit", (code) => reject(new Error(`testbed server exited (${code})`)));
});
const server = { url: served.url };
const tb = { id: served.model };
const battery: Battery = {
  epoch: "bench-e1",
  probes: corpus.public.slice(9000, 9000 + probesN).map((s, i) => {
    const prompt = corpus.tokens(s).slice(0, 6).join(" ");
    if (i % 5 === 1) return { id: `p${i}`, kind: "edge" as const, prompt, reference: "x" };
    if (i % 5 === 2) return { id: `p${i}`, kind: "completion" as const, prompt };
    return { id: `p${i}`, kind: "open" as const, prompt };
  }),
};

const adapter = new HttpAdapter({ baseUrl: server.url, model: tb.id, concurrency });
let t0 = performance.now();
await askAll(adapter, battery.probes, {}, { concurrency });
const adapterProbesPerS = probesN / ((performance.now() - t0) / 1000);

const dir = mkdtempSync(join(tmpdir(), "lineage-bench-node-"));
let probesPerS = 0;
let probesPerCpuS = 0;
try {
  writeFileSync(join(dir, "key.pem"), key.toPem(), { mode: 0o600 });
  writeFileSync(join(dir, "battery.json"), JSON.stringify(battery));
  writeFileSync(join(dir, "epoch.key"), randomBytes(32).toString("hex"), { mode: 0o600 });
  const configFile = join(dir, "node.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      member_id: "bench",
      signing_key_file: "key.pem",
      listen: "127.0.0.1:0",
      database: { data_dir: "data" },
      battery: { file: "battery.json", epoch_key_file: "epoch.key" },
      adapters: { main: { base_url: server.url, model: tb.id, concurrency } },
    }),
    { mode: 0o600 },
  );
  const config = await readMemberNodeConfig(configFile, {});
  await using node = await startMemberNode({ config, env: {}, logger: silentNodeLogger, epochPollMs: 0 });
  using client = connectMemberNode(node.address, insecureChannelCredentials(), key, "bench");
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  let done = 0;
  for await (const p of client.protect({
    model: { memberId: "bench", modelId: "bench-model" },
    adapter: "main",
  }))
    done = p.probesDone;
  if (done !== probesN) throw new Error(`protect ended at ${done} of ${probesN}`);
  probesPerS = probesN / ((performance.now() - t0) / 1000);
  probesPerCpuS = probesN / cpuSeconds(cpu0);
} finally {
  rmSync(dir, { recursive: true, force: true });
  child.kill("SIGTERM");
}

const round = (x: number) => Math.round(x * 10) / 10;
const result = {
  sketch_version: SKETCH_VERSION,
  sketches_per_s: round(sketchesPerS),
  sketches_per_cpu_s: round(sketchesPerCpuS),
  node_publish_path_per_s: round(publishPathPerS),
  node_publish_path_per_cpu_s: round(publishPathPerCpuS),
  sketch_battery_probes: SKETCH_PROBES,
  sketch_battery_words: words,
  probes_per_s: round(probesPerS),
  probes_per_node_cpu_s: round(probesPerCpuS),
  adapter_probes_per_s: round(adapterProbesPerS),
  probe_battery_probes: probesN,
  probe_concurrency: concurrency,
  load_average_1m: round(loadavg()[0] ?? 0),
  targets: { sketches_per_s: 50, probes_per_s: 200 },
};
console.log(
  [
    `sketches of a ${SKETCH_PROBES}-probe battery (${words} words): ${result.sketches_per_s}/s (target >= 50), ${result.sketches_per_cpu_s} per CPU-second; whole publish path ${result.node_publish_path_per_s}/s (${result.node_publish_path_per_cpu_s} per CPU-second)`,
    `probes through the node's protect flow (PGlite, each answer stored), concurrency ${concurrency}: ${result.probes_per_s}/s (target >= 200), ${result.probes_per_node_cpu_s} per node CPU-second; bare HTTP adapter ${result.adapter_probes_per_s}/s`,
    `machine load average (1 min): ${result.load_average_1m}`,
  ].join("\n"),
);
if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
