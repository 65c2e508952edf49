/**
 * Child process of the detection benchmark: builds (or loads from the cache) one split of the testbed
 * population and serves all its models on 127.0.0.1 through the testbed's OpenAI-compatible HTTP API, so
 * the engine probes them over HTTP exactly as it would a real suspect, and model generation runs on its
 * own core. Prints one JSON line {"url"} on stdout once listening; exits when stdin closes (the parent
 * died or finished) or on SIGTERM.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/serve-split.ts SPLIT SIZE [CACHE_DIR]
 */
import { buildPopulation, serveTestbed } from "@lineage/testbed";

const [split, size, cacheDir] = process.argv.slice(2);
if ((split !== "calibration" && split !== "test") || (size !== "full" && size !== "small")) {
  process.stderr.write("serve-split: usage: serve-split.ts calibration|test full|small\n");
  process.exit(2);
}
const pop = await buildPopulation({ split, size, ...(cacheDir ? { cacheDir } : {}) });
const server = await serveTestbed({ models: pop.entries.map((e) => e.model) });
process.stdout.write(`${JSON.stringify({ url: server.url, models: pop.entries.length })}\n`);
const stop = (): void => {
  void server.close().finally(() => process.exit(0));
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
