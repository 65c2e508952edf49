// The Bus contract on a real nats-server with JetStream (LINEAGE_TEST_NATS_URL, default
// nats://127.0.0.1:4222). Unreachable server: a visible SKIP with the reason outside CI, a failure in CI
// (any truthy CI; server-required.ts).
import { test } from "node:test";
import { connectNatsBus } from "../src/index.js";
import { busContract } from "./bus-contract.js";
import { planServerTest } from "./server-required.js";

const url = process.env.LINEAGE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

async function probe(): Promise<string | undefined> {
  try {
    const bus = await connectNatsBus({ servers: url, timeoutMs: 2000, maxReconnectAttempts: 0 });
    await bus.close();
    return undefined;
  } catch (err) {
    return `NATS with JetStream not reachable at ${url}: ${(err as Error).message}`;
  }
}

const plan = planServerTest(await probe());
if (plan.action === "fail") {
  test("NATS server is reachable (required in CI)", () => {
    throw new Error(plan.reason);
  });
} else {
  busContract(
    "nats",
    () => connectNatsBus({ servers: url, name: "lineage-bus-contract" }),
    plan.action === "skip" ? plan.reason : undefined,
  );
}
