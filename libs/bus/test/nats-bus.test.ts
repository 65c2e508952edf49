// The Bus contract on a real nats-server with JetStream (LINEAGE_TEST_NATS_URL, default
// nats://127.0.0.1:4222). Unreachable server: fails under CI=true, skips with the reason otherwise.
import { test } from "node:test";
import { connectNatsBus } from "../src/index.js";
import { busContract } from "./bus-contract.js";

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

const unreachable = await probe();
if (unreachable !== undefined && process.env.CI === "true") {
  test("NATS server is reachable (required under CI=true)", () => {
    throw new Error(unreachable);
  });
} else {
  busContract("nats", () => connectNatsBus({ servers: url, name: "lineage-bus-contract" }), unreachable);
}
