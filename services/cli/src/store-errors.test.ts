import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "@lineage/store";
import { EXIT } from "./cli-error.js";
import { cliErrorFromStore } from "./store-errors.js";

test("store failures map to exit codes: locked and unreachable are 'could not check' (3), bad input usage (2)", () => {
  const exit = (code: ConstructorParameters<typeof StoreError>[0]) =>
    cliErrorFromStore(new StoreError(code, "x"), "hub migrate").exitCode;
  assert.equal(exit("locked"), EXIT.unavailable);
  assert.equal(exit("unavailable"), EXIT.unavailable);
  assert.equal(exit("invalid_argument"), EXIT.usage);
  assert.equal(exit("conflict"), EXIT.failed);
  assert.match(
    cliErrorFromStore(new StoreError("locked", "held by pid 42"), "hub migrate").message,
    /^hub migrate: held by pid 42/,
  );
});
