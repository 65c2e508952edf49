/**
 * Test world of `lineage hub serve` as a running hub (hub-serve.test.ts): the hub is the real `lineage` program
 * in a child process (sources through bin/lineage.js), a member is a REAL member node (startMemberNodeServer,
 * its own store) that the hub reaches through --members-file, and every model — the member's, the panel's and
 * the suspect — is a testbed n-gram model served over HTTP by the testbed's OpenAI-compatible server. The
 * member talks to the hub only over gRPC (enrolment by the secretariat's signed call, canary and reference
 * commitments, the epoch battery, its sketch, its report of a suspect), as a deployed node does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EnrolMemberRequestSchema,
  GetEpochBatteryRequestSchema,
  Hub,
  LogCanaryCommitmentRequestSchema,
  ProbeKind,
  ReferenceFingerprintCommitmentSchema,
  SketchSchema,
  SubmitSketchRequestSchema,
} from "@lineage/api";
import { createInProcessBus } from "@lineage/bus";
import { type CanaryPair, Ed25519PrivateKey, KeyRing, parseVerifierKey, signEnvelope } from "@lineage/crypto";
import {
  type Battery,
  buildSketch,
  createSketchContext,
  HttpAdapter,
  type Probe,
  probeModel,
  sketchInputsFromFingerprint,
  splitBattery,
} from "@lineage/fingerprint";
import {
  enrolmentRecord,
  envelopeToProto,
  PAYLOAD_TYPES,
  SECRETARIAT,
  SKETCH_PAYLOAD_TYPE,
  signMembership,
  signRequest,
  sketchToProto,
} from "@lineage/hub";
import {
  adminAuth,
  generateCanaryPairs,
  headerSigner,
  type MemberNodeServer,
  matchServices,
  silentNodeLogger,
  startMemberNodeServer,
  staticBatterySource,
} from "@lineage/member-node";
import {
  createClient,
  insecureChannelCredentials,
  insecureServerCredentials,
  type ServiceClient,
} from "@lineage/rpc";
import { type MemberNodeDatabase, memberNodeMigrations, type Store } from "@lineage/store";
import { factSentence, loadCorpus, NgramCounts, TestbedModel } from "@lineage/testbed";

export const ROOT = resolve(import.meta.dirname, "../../../..");
const BIN = join(ROOT, "services/cli/bin/lineage.js");

/** A free loopback port (bound, read, released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

/** A `lineage hub serve` child process, its address and verifier key from the line it prints. */
export interface HubProcess extends AsyncDisposable {
  readonly address: string;
  readonly verifierKey: string;
  readonly client: ServiceClient<typeof Hub>;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Interrupts it (SIGINT, like Ctrl-C) and resolves to its exit code. */
  stop(): Promise<number | null>;
}

export async function spawnHub(
  cwd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<HubProcess> {
  const child: ChildProcess = spawn(process.execPath, [BIN, "hub", "serve", ...args, "--json"], {
    cwd,
    env: { ...process.env, LINEAGE_USE_DIST: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
  let line: { address: string; verifier_key: string } | undefined;
  for (let i = 0; i < 1200 && line === undefined; i++) {
    if (child.exitCode !== null) break;
    // The --json document (pretty-printed) once it is complete.
    if (out.trimEnd().endsWith("}")) {
      try {
        line = JSON.parse(out) as { address: string; verifier_key: string };
        break;
      } catch {
        // not complete yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (line === undefined) {
    child.kill("SIGKILL");
    throw new Error(`hub serve did not start (exit ${child.exitCode}): ${err}`);
  }
  const client = createClient(Hub, line.address, insecureChannelCredentials(), { defaultTimeoutMs: 60_000 });
  let stopped: Promise<number | null> | undefined;
  const stop = () => {
    if (stopped === undefined) {
      client.close();
      child.kill("SIGINT");
      const force = setTimeout(() => child.kill("SIGKILL"), 20_000);
      stopped = exited.finally(() => clearTimeout(force));
    }
    return stopped;
  };
  return {
    address: line.address,
    verifierKey: line.verifier_key,
    client,
    stderr: () => err,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** A battery of `n` open-ended probes: the first words of public corpus sentences (what the testbed continues). */
export function corpusBattery(epoch: string, n: number): Battery {
  const corpus = loadCorpus();
  return {
    epoch,
    probes: corpus.public.slice(5000, 5000 + n).map((s, i) => ({
      id: String(i),
      kind: "open" as const,
      prompt: corpus.tokens(s).slice(0, 5).join(" "),
    })),
  };
}

/** An n-gram model on a slice of the public corpus, plus `facts` (prompt, answer) learned by heart. */
export function trainModel(
  id: string,
  slice: [number, number],
  facts: readonly { prompt: string; answer: string }[] = [],
): TestbedModel {
  const corpus = loadCorpus();
  const counts = new NgramCounts(4);
  for (const s of corpus.public.slice(slice[0], slice[1])) counts.addSequence(corpus.tokens(s));
  for (const f of facts) counts.addSequence(factSentence(f.prompt, f.answer), 8);
  return new TestbedModel(id, counts.compile());
}

/** The exposed item of every pair (label 1: b), as facts a copy would have learned. */
export function exposedFacts(pairs: readonly CanaryPair[], labels: readonly (0 | 1)[]) {
  return pairs.map((p, i) => {
    const e = labels[i] === 1 ? p.b : p.a;
    return { prompt: e.prompt, answer: e.expected };
  });
}

/** A member node (real, on its own store) reaching the hub at `hubAddress` and models at `modelsUrl`. */
export interface MemberWorld extends AsyncDisposable {
  readonly memberId: string;
  readonly modelId: string;
  readonly key: Ed25519PrivateKey;
  readonly node: MemberNodeServer;
  readonly hub: ServiceClient<typeof Hub>;
  /** Enrols through the hub (secretariat-signed), commits canary pairs, returns them and their labels. */
  enrolAndCommit(hubKey: Ed25519PrivateKey): Promise<{ pairs: CanaryPair[]; labels: (0 | 1)[] }>;
  /** Probes its model over HTTP on the hub's battery and sends its member-signed sketch. */
  protect(): Promise<void>;
}

export async function startMemberWorld(o: {
  readonly store: Store<MemberNodeDatabase>;
  readonly memberId: string;
  readonly hubAddress: string;
  readonly hubOrigin: string;
  readonly hubVerifierKey: string;
  readonly hubPublicKey: Ed25519PrivateKey["publicKey"];
  readonly modelsUrl: () => string;
  readonly battery: Battery;
  /** The port the node listens on (named in the hub's members file before the hub starts). */
  readonly port: number;
}): Promise<MemberWorld> {
  await o.store.migrate(memberNodeMigrations);
  const key = Ed25519PrivateKey.generate();
  const memberId = o.memberId;
  const modelId = `${memberId}-chat`;
  const hub = createClient(Hub, o.hubAddress, insecureChannelCredentials(), { defaultTimeoutMs: 60_000 });
  const http = (model: string) => new HttpAdapter({ baseUrl: o.modelsUrl(), model, concurrency: 8 });
  const deps = {
    memberId,
    store: o.store,
    bus: createInProcessBus(),
    signingKey: key,
    signer: headerSigner(memberId, key, o.store, Date.now),
    hub,
    hubKeys: new KeyRing([o.hubPublicKey]),
    admin: adminAuth({ keys: new KeyRing([key.publicKey]), now: Date.now, store: o.store }),
    clock: Date.now,
    logger: silentNodeLogger,
  };
  const services = matchServices(deps, {
    hubLog: { origin: o.hubOrigin, verifier: parseVerifierKey(o.hubVerifierKey) },
    models: {
      // The suspect the logged session names, over HTTP (as a deployed node reaches it).
      suspect: (ref) =>
        ref.target.case === "endpoint"
          ? new HttpAdapter({
              baseUrl: ref.target.value.baseUrl,
              model: ref.target.value.modelName,
              concurrency: 8,
            })
          : undefined,
      reference: (m) => (m.memberId === memberId && m.modelId === modelId ? http(modelId) : undefined),
      panel: (id) => http(id),
      battery: async (epochId) => (epochId === o.battery.epoch ? o.battery : undefined),
    },
  });
  const node = await startMemberNodeServer({
    deps,
    protect: { batteries: staticBatterySource(o.battery, new Uint8Array(32).fill(1)), adapters: {}, env: {} },
    match: services,
    listen: `127.0.0.1:${o.port}`,
    credentials: insecureServerCredentials(),
    security: "plaintext",
    rpcLogger: { warn: () => {}, error: () => {} },
  });
  const signed = <T>(schema: Parameters<typeof signRequest>[0], msg: T) =>
    signRequest(schema, msg as never, { memberId, key }) as T;
  return {
    memberId,
    modelId,
    key,
    node,
    hub,
    async enrolAndCommit(hubKey) {
      const now = Date.now();
      const record = signMembership(
        enrolmentRecord(memberId, `Member ${memberId}`, key.publicKey, now - 60_000, { effectiveAtMs: now }),
        [key],
      );
      await hub.enrolMember(
        signRequest(
          EnrolMemberRequestSchema,
          create(EnrolMemberRequestSchema, {
            memberId,
            displayName: `Member ${memberId}`,
            record: envelopeToProto(record),
          }),
          { memberId: SECRETARIAT, key: hubKey },
        ),
      );
      // The node's own generator, each prompt ending in a distinctive word instead of "?": the testbed's
      // n-gram models start a fresh sentence after a sentence end, so only a prompt that continues lets a
      // copy that learned the item answer it.
      const word = () => Array.from(randomBytes(8), (b) => String.fromCharCode(97 + (b % 26))).join("");
      const pairs = generateCanaryPairs(32).map((p) => ({
        ...p,
        a: { ...p.a, prompt: `${p.a.prompt.replace(/\?$/, "")} ${word()}` },
        b: { ...p.b, prompt: `${p.b.prompt.replace(/\?$/, "")} ${word()}` },
      }));
      const s = services;
      await s.canaries.import(`${memberId}-pairs-1`, pairs);
      await s.canaries.commit(`${memberId}-pairs-1`);
      const labels = await s.canaries.learnLabels(`${memberId}-pairs-1`);
      // The reference fingerprint commitment of its model, logged through the hub before any session binds it.
      const env = signEnvelope(
        PAYLOAD_TYPES.referenceFingerprint,
        toBinary(
          ReferenceFingerprintCommitmentSchema,
          create(ReferenceFingerprintCommitmentSchema, {
            memberId,
            modelId,
            modelVersion: "1",
            epochId: o.battery.epoch,
            fingerprintHash: new Uint8Array(randomBytes(32)),
            probes: o.battery.probes.length,
            committedAt: timestampFromMs(Date.now()),
          }),
        ),
        key,
      );
      await hub.logCanaryCommitment(
        signed(
          LogCanaryCommitmentRequestSchema,
          create(LogCanaryCommitmentRequestSchema, { commitment: envelopeToProto(env) }),
        ),
      );
      return { pairs, labels: [...labels] };
    },
    async protect() {
      const res = await hub.getEpochBattery(
        signed(GetEpochBatteryRequestSchema, create(GetEpochBatteryRequestSchema, {})),
      );
      const eb = res.battery;
      if (eb === undefined) throw new Error("the hub sent no battery");
      // Exactly the scanner's recipe: probe ids the decimal indexes, the retrieval half of the battery.
      const probes = eb.probes.map(
        (p, i): Probe => ({
          id: String(i),
          kind: p.kind === ProbeKind.OPEN_ENDED ? "open" : "completion",
          prompt: p.prompt,
        }),
      );
      const epochId = eb.epoch?.epochId ?? "";
      const battery = splitBattery({ epoch: epochId, probes }, epochId).retrieval;
      const fp = await probeModel(http(modelId), battery, { concurrency: 4 });
      const sketch = buildSketch(
        sketchInputsFromFingerprint(battery, fp),
        createSketchContext(res.epochKey, epochId),
      );
      const env = signEnvelope(
        SKETCH_PAYLOAD_TYPE,
        toBinary(SketchSchema, sketchToProto(sketch, { memberId, modelId, modelVersion: "1" }, Date.now())),
        key,
      );
      await hub.submitSketch(
        signed(
          SubmitSketchRequestSchema,
          create(SubmitSketchRequestSchema, { sketch: envelopeToProto(env) }),
        ),
      );
    },
    [Symbol.asyncDispose]: async () => {
      await node.close();
      hub.close();
    },
  };
}
