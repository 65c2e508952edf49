/**
 * The one place @lineage/bus tests decide what a missing test server means (issue 7): outside CI the test
 * shows as SKIPPED with the reason (node:test `{ skip: reason }`), never as a silent pass; in CI (any truthy
 * `CI`) it runs and fails with the reason, since a CI run that skipped its NATS tests tested nothing.
 */

/** `CI` values that mean "not CI" (compared trimmed and lower-cased); anything else set means CI. */
const CI_FALSE = new Set(["", "0", "false", "no", "off"]);

/** Whether the environment is a CI run: `CI` set to anything but empty, `0`, `false`, `no` or `off`. */
export function isCi(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const v = env.CI;
  return v !== undefined && !CI_FALSE.has(v.trim().toLowerCase());
}

/** What to do with a test that needs a server: run it, skip it visibly, or fail it. */
export type ServerTestPlan =
  | { readonly action: "run" }
  | { readonly action: "skip"; readonly reason: string }
  | { readonly action: "fail"; readonly reason: string };

/**
 * Plans a server-backed test from why its server is missing (`undefined`: it is there) and the
 * environment. Callers pass `skip` to node:test and, on `fail`, register a test that fails with the reason.
 */
export function planServerTest(
  missing: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServerTestPlan {
  if (missing === undefined) return { action: "run" };
  if (isCi(env))
    return { action: "fail", reason: `${missing} (CI=${env.CI ?? ""}: this test must run in CI)` };
  return { action: "skip", reason: missing };
}
