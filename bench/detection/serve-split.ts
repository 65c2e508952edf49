/**
 * Child process of the detection benchmark: builds (or loads from the cache) one split of the testbed
 * population and serves all its models on 127.0.0.1 through the testbed's OpenAI-compatible HTTP API, so
 * the engine probes them over HTTP exactly as it would a real suspect, and model generation runs on its
 * own core. Prints one JSON line {"url"} on stdout once listening; exits when stdin closes (the parent
 * died or finished) or on SIGTERM.
 *
 *   node --conditions=lineage-source --import tsx bench/detection/serve-split.ts SPLIT SIZE [CACHE_DIR]
 *        [--attacks] [--attack-students=N] [--subword]
 *
 * --attacks also builds and serves the adaptive distillers' models (libs/testbed attacks.ts); --subword also
 * serves every positive as `<id>~bpe` through the subword tokenizer (libs/testbed subword-model.ts).
 */
import {
  buildPopulation,
  loadCorpus,
  SubwordTestbedModel,
  serveTestbed,
  type TestbedModel,
  trainSubwordTokenizer,
} from "@lineage/testbed";

const argv = process.argv.slice(2);
const flags = new Set(argv.filter((a) => a.startsWith("--")));
const [split, size, cacheDir] = argv.filter((a) => !a.startsWith("--"));
const studentsFlag = [...flags].find((f) => f.startsWith("--attack-students="));
const students =
  studentsFlag === undefined ? undefined : Number(studentsFlag.slice("--attack-students=".length));
const unknown = [...flags].filter((f) => f !== "--attacks" && f !== "--subword" && f !== studentsFlag);
if (students !== undefined && !(Number.isInteger(students) && students >= 1 && students <= 20))
  unknown.push("students");
if (
  (split !== "calibration" && split !== "test") ||
  (size !== "full" && size !== "small") ||
  unknown.length > 0
) {
  process.stderr.write(
    "serve-split: usage: serve-split.ts calibration|test full|small [CACHE_DIR] [--attacks] [--subword]\n",
  );
  process.exit(2);
}
const pop = await buildPopulation({
  split,
  size,
  ...(cacheDir ? { cacheDir } : {}),
  ...(flags.has("--attacks") ? { attacks: true } : {}),
  ...(students !== undefined ? { attackStudents: students } : {}),
});
const models: TestbedModel[] = pop.entries.map((e) => e.model);
if (flags.has("--subword")) {
  const bpe = trainSubwordTokenizer(loadCorpus());
  for (const e of pop.entries) if (e.role === "positive") models.push(new SubwordTestbedModel(e.model, bpe));
}
const server = await serveTestbed({ models });
process.stdout.write(`${JSON.stringify({ url: server.url, models: models.length })}\n`);
const stop = (): void => {
  void server.close().finally(() => process.exit(0));
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
