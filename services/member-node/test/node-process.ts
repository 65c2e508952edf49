// A member node in its own process, for tests that kill it (kill -9) and start it again: reads the config
// named by argv[2], serves until SIGTERM/SIGINT, prints {"address"} on stdout once listening and JSON log
// lines on stderr.
import { jsonLineLogger, readMemberNodeConfig, startMemberNode } from "../src/index.js";

const config = await readMemberNodeConfig(process.argv[2] as string, process.env);
const node = await startMemberNode({
  config,
  env: process.env,
  logger: jsonLineLogger((l) => process.stderr.write(l)),
  epochPollMs: 0,
});
process.stdout.write(`${JSON.stringify({ address: node.address })}\n`);
const stop = async () => {
  await node.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
