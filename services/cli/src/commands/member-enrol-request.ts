/**
 * `lineage member enrol-request`: the member's half of enrolment (issue 8). The member signs its own
 * ENROL record with its new private key (proof of possession) and reads the printed fingerprint aloud
 * to the secretariat, who logs the request with `lineage hub enrol --request FILE --fingerprint FP`.
 * The hub cannot enrol a key the member did not sign, and the secretariat logs only the key whose
 * fingerprint it heard from the member.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { serializeEnvelope } from "@lineage/crypto";
import { enrolmentRecord, keyFingerprint, signMembership } from "@lineage/hub";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";
import { readPrivateKeyFile } from "./keygen.js";

/** Member ids the log accepts (member-registry.ts). */
export const MEMBER_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

function where(inv: Invocation): string {
  return ["lineage", ...inv.path].join(" ");
}

/** `lineage member enrol-request`. */
export const memberEnrolRequest: Command = {
  name: "enrol-request",
  summary:
    "Sign this member's enrolment with its own key (proof of possession) and print the fingerprint to read to the secretariat.",
  options: {
    key: { type: "string", valueName: "file", required: true, description: "The member's private key (PEM)" },
    "member-id": { type: "string", valueName: "id", required: true, description: "The member's id" },
    "display-name": { type: "string", valueName: "name", description: "Human-readable member name" },
    out: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Where to write the signed request (DSSE JSON) to send to the secretariat",
    },
  },
  run: async (inv) => {
    const memberId = requiredStringOpt(inv, "member-id");
    if (!MEMBER_ID_RE.test(memberId)) {
      throw new CliError(
        "invalid_argument",
        `${where(inv)}: --member-id must be 1-64 of [a-z0-9-], starting with a letter or digit`,
      );
    }
    const key = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key");
    const now = Date.now();
    const envelope = signMembership(
      enrolmentRecord(memberId, stringOpt(inv, "display-name") ?? memberId, key.publicKey, now),
      [key],
    );
    const out = resolve(inv.io.cwd, requiredStringOpt(inv, "out"));
    try {
      await writeFile(out, `${serializeEnvelope(envelope)}\n`, { flag: "wx", mode: 0o644 });
    } catch (err) {
      throw new CliError("unavailable", `${where(inv)}: cannot write ${out} (it must not exist yet)`, {
        cause: err,
      });
    }
    const fingerprint = keyFingerprint(key.publicKey.raw);
    emit(
      inv,
      { member_id: memberId, key_id: key.keyId, fingerprint, request: out },
      `enrolment request for ${memberId} written to ${out}\nRead this fingerprint to the secretariat on a call THEY place to a number they already know:\n  ${fingerprint}`,
    );
    return EXIT.ok;
  },
};
