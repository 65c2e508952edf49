/**
 * `lineage fingerprint`: probes a model on a battery and saves its private fingerprint (raw responses with
 * log-probabilities where served) and, with an epoch key, its shareable sketch. Progress on stderr.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  buildSketch,
  EPOCH_KEY_BYTES,
  encodeSketch,
  parseBattery,
  probeModel,
  sketchInputsFromFingerprint,
} from "@lineage/fingerprint";
import { CliError, EXIT } from "../cli-error.js";
import type { Command } from "../command.js";
import { emit, intOpt, numberOpt, requiredStringOpt, stringOpt, writableFileOpt } from "../option-values.js";
import { cliErrorFrom, openModel, readTextFile } from "./model-spec.js";

export const fingerprintCommand: Command = {
  name: "fingerprint",
  summary: "Probe a model on a battery; save its private fingerprint (and its sketch, given an epoch key).",
  options: {
    model: {
      type: "string",
      valueName: "model",
      required: true,
      description: "replay:FILE or http(s)://HOST/v1?model=NAME",
    },
    battery: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Battery JSON {epoch, probes}",
    },
    out: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Where to write the fingerprint JSON",
    },
    "sketch-out": { type: "string", valueName: "file", description: "Where to write the binary sketch" },
    "epoch-key-env": { type: "string", valueName: "var", description: "Env var holding the epoch key (hex)" },
    temperature: { type: "string", valueName: "t", description: "Sampling temperature (default 0)" },
    seed: { type: "string", valueName: "n", description: "Sampling seed (default 0)" },
    "max-tokens": {
      type: "string",
      valueName: "n",
      description: "Tokens per response (default 200; 16 on completions)",
    },
    "timeout-ms": { type: "string", valueName: "ms", description: "Per-request timeout" },
    concurrency: { type: "string", valueName: "n", description: "Requests in flight (default 4)" },
    "api-key-env": {
      type: "string",
      valueName: "var",
      description: "Env var holding the endpoint's API key",
    },
  },
  run: async (inv) => {
    const cwd = inv.io.cwd;
    const keyEnv = stringOpt(inv, "api-key-env");
    const apiKey = keyEnv ? inv.io.env[keyEnv] : undefined;
    if (keyEnv && !apiKey) throw new CliError("invalid_argument", `--api-key-env: ${keyEnv} is not set`);
    const timeoutMs = intOpt(inv, "timeout-ms", { min: 1, max: 600_000 });
    const concurrency = intOpt(inv, "concurrency", { min: 1, max: 64 });
    // Both outputs are checked before any probing: a run of minutes must not end in "cannot write".
    const out = await writableFileOpt(inv, "out");
    if (out === undefined) throw new CliError("usage", "lineage fingerprint: missing required option --out");
    const sketchOut = await writableFileOpt(inv, "sketch-out");
    if (sketchOut === out)
      throw new CliError("invalid_argument", `--out and --sketch-out are the same file ${out}`);
    const model = await openModel(requiredStringOpt(inv, "model"), "model", cwd, {
      ...(apiKey ? { apiKey } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
    });
    const batteryPath = resolve(cwd, requiredStringOpt(inv, "battery"));
    const text = await readTextFile(batteryPath, "--battery");
    let battery: ReturnType<typeof parseBattery>;
    try {
      battery = parseBattery(JSON.parse(text));
    } catch (e) {
      if (e instanceof SyntaxError)
        throw new CliError("invalid_argument", `--battery ${batteryPath} is not valid JSON`);
      throw cliErrorFrom(e, "--battery");
    }
    const keyVar = stringOpt(inv, "epoch-key-env");
    let epochKey: Uint8Array | undefined;
    if (sketchOut) {
      const hex = keyVar ? inv.io.env[keyVar] : undefined;
      if (!hex || !new RegExp(`^[0-9a-fA-F]{${EPOCH_KEY_BYTES * 2}}$`).test(hex)) {
        throw new CliError(
          "invalid_argument",
          `--sketch-out needs --epoch-key-env naming a variable with ${EPOCH_KEY_BYTES * 2} hex digits`,
        );
      }
      epochKey = Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
    }
    const temperature = numberOpt(inv, "temperature", { min: 0, max: 5 });
    const seed = intOpt(inv, "seed", { min: 0, max: 2 ** 31 - 1 });
    const maxTokens = intOpt(inv, "max-tokens", { min: 1, max: 8192 });
    let fp: Awaited<ReturnType<typeof probeModel>>;
    try {
      fp = await probeModel(model, battery, {
        ...(temperature !== undefined ? { temperature } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(inv.io.signal ? { signal: inv.io.signal } : {}),
        onProgress: (p) => inv.io.stderr.write(`\rprobing: ${p.done}/${p.total}`),
      });
    } catch (e) {
      inv.io.stderr.write("\n");
      throw cliErrorFrom(e, "lineage fingerprint");
    }
    inv.io.stderr.write("\n");
    await writeFile(out, `${JSON.stringify(fp)}\n`, { mode: 0o600 });
    let sketchBytes = 0;
    if (sketchOut && epochKey) {
      const sketch = buildSketch(sketchInputsFromFingerprint(battery, fp), {
        epochKey,
        epochId: battery.epoch,
      });
      const bytes = encodeSketch(sketch);
      sketchBytes = bytes.length;
      await writeFile(sketchOut, bytes);
    }
    emit(
      inv,
      {
        fingerprint: out,
        probes: Object.keys(fp.responses).length,
        queries: fp.queries,
        sketch_bytes: sketchBytes,
      },
      `fingerprint of ${fp.model}: ${Object.keys(fp.responses).length} probes -> ${out}${sketchBytes ? ` (+ sketch, ${sketchBytes} bytes)` : ""}`,
    );
    return EXIT.ok;
  },
};
