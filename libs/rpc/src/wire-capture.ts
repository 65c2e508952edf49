/**
 * Wire capture for privacy tests (issue 12, "Privacy and faults"): when `LINEAGE_RPC_CAPTURE_DIR` names a
 * folder, every gRPC message this process serializes — its client requests and its server responses, i.e.
 * everything it sends — is appended to `<dir>/rpc-<pid>.bin`, so a test can search what a hub and its member
 * nodes really sent each other for a canary, a model response or a key. Off (one environment read, then a
 * cached `null`) unless the variable is set. A record is one header line then the message's raw protobuf
 * bytes (strings in protobuf are plain UTF-8, so a substring search of the file finds any text field):
 *
 *     \n#lineage-rpc-capture <request|response> <path> <length>\n<bytes>
 *
 * The file holds everything the process sent: it is created 0600, never through a symlink, one per process
 * (no interleaving between processes). A write that fails turns capture off and says so once on stderr; it
 * never fails the call. Test: services/cli/test/alliance/alliance.test.ts (privacy test).
 */
import { constants, openSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The environment variable naming the capture folder. */
export const RPC_CAPTURE_ENV = "LINEAGE_RPC_CAPTURE_DIR";

/** Marker that starts every record (tests split the file on it). */
export const RPC_CAPTURE_MARKER = "\n#lineage-rpc-capture ";

let fd: number | null | undefined;

function captureFd(): number | null {
  if (fd !== undefined) return fd;
  const dir = process.env[RPC_CAPTURE_ENV];
  if (dir === undefined || dir === "") {
    fd = null;
    return fd;
  }
  try {
    fd = openSync(
      join(dir, `rpc-${process.pid}.bin`),
      constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (err) {
    process.stderr.write(
      `rpc capture off: cannot open a file in ${RPC_CAPTURE_ENV}: ${(err as Error).message}\n`,
    );
    fd = null;
  }
  return fd;
}

/** Appends one sent message to the capture file, when capture is on. */
export function captureSent(kind: "request" | "response", path: string, bytes: Uint8Array): void {
  const f = captureFd();
  if (f === null) return;
  try {
    writeSync(f, `${RPC_CAPTURE_MARKER}${kind} ${path} ${bytes.byteLength}\n`);
    writeSync(f, bytes);
  } catch (err) {
    process.stderr.write(`rpc capture off: write failed: ${(err as Error).message}\n`);
    fd = null;
  }
}
