/**
 * For tests: runs `lineage hub serve` in-process on an ephemeral port while a callback talks to it, then
 * interrupts it like Ctrl-C and checks it stopped cleanly. Shared so every CLI test that needs a live hub
 * waits for the address and shuts down the same way.
 */
import assert from "node:assert/strict";
import { captureIo } from "./capture-io.js";
import { EXIT } from "./cli-error.js";
import { main } from "./main.js";

/**
 * Serves the hub log in `cwd` with `serveArgs` (e.g. `--key hub.pem --origin … --data-dir …`) until `fn`
 * is done. The address is read from the `--json` line the server prints once it listens.
 */
export async function whileServing(
  cwd: string,
  serveArgs: readonly string[],
  fn: (address: string) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const s = captureIo({ cwd, signal: ac.signal });
  const running = main(["hub", "serve", ...serveArgs, "--listen", "127.0.0.1:0", "--json"], s);
  let address = "";
  for (let i = 0; i < 300 && !address; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (s.out().trim().endsWith("}")) address = (JSON.parse(s.out()) as { address: string }).address;
  }
  assert.match(address, /^127\.0\.0\.1:\d+$/, s.err());
  try {
    await fn(address);
  } finally {
    ac.abort();
    assert.equal(await running, EXIT.ok);
  }
}
