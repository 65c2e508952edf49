/**
 * `lineage member disclose --session ID --to AUDITOR_PUBKEY --out FILE [--witness-key VKEY ...]`: the running
 * node builds the disclosure package of an answered session from the log (docs/specs/disclosure.md; with the
 * auditor's trusted witnesses, the witnessed v2 sample) and returns it sealed to the auditor's X25519 key; it is written all at once, 0600. `lineage audit disclosure-key --out FILE` makes
 * the auditor's key pair (the private key file, 0600; the public key printed for the member).
 */
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { generateAuditorKey } from "@lineage/auditor";
import { AUDITOR_PUBLIC_KEY_PREFIX, parseAuditorPublicKey } from "@lineage/member-node";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, intOpt, requiredStringOpt, stringListOpt, writableFileOpt } from "../option-values.js";
import { writePrivateAtomically } from "./member-canaries.js";
import { cliErrorFromNode, nodeClient, nodeFlags, whereOf } from "./member-node-access.js";

/** `--to`: the key text itself, or a file holding it. */
async function auditorKeyOf(inv: Invocation): Promise<Uint8Array> {
  const raw = requiredStringOpt(inv, "to");
  let text = raw;
  if (!raw.startsWith(AUDITOR_PUBLIC_KEY_PREFIX)) {
    const path = resolve(inv.io.cwd, raw);
    const s = await stat(path).catch(() => null);
    if (s === null || !s.isFile() || s.size > 4096)
      throw new CliError(
        "invalid_argument",
        `${whereOf(inv)}: --to must be "${AUDITOR_PUBLIC_KEY_PREFIX}<64 hex>" or a file holding it`,
      );
    text = await readFile(path, "utf8");
  }
  try {
    return parseAuditorPublicKey(text);
  } catch (err) {
    throw new CliError("invalid_argument", `${whereOf(inv)}: --to: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export const memberDisclose: Command = {
  name: "disclose",
  summary: "Write a session's canary disclosure package, sealed to one auditor's key.",
  options: {
    ...nodeFlags,
    session: { type: "string", valueName: "id", required: true, description: "The answered session's id" },
    to: {
      type: "string",
      valueName: "key|file",
      required: true,
      description: `The auditor's public key (${AUDITOR_PUBLIC_KEY_PREFIX}…) or a file holding it`,
    },
    out: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Where to write the sealed package (0600)",
    },
    "witness-key": {
      type: "string",
      multiple: true,
      valueName: "vkey",
      description:
        "A witness the auditor trusts (cosignature/v1 verifier key, as 'lineage witness pubkey' prints): the package then carries the witnessed (v2) sample the auditor checks with the same --witness-key",
    },
    "witness-quorum": {
      type: "string",
      valueName: "n",
      description: "Cosignatures by those witnesses the seed checkpoint needs (default 1)",
    },
  },
  run: async (inv) => {
    const session = requiredStringOpt(inv, "session");
    const out = (await writableFileOpt(inv, "out")) as string;
    const key = await auditorKeyOf(inv);
    const witnessKeys = inv.options["witness-key"] === undefined ? [] : stringListOpt(inv, "witness-key");
    const quorum = intOpt(inv, "witness-quorum", { min: 1, max: 32 });
    if (quorum !== undefined && witnessKeys.length === 0)
      throw new CliError("usage", `${whereOf(inv)}: --witness-quorum needs --witness-key`);
    const { client } = await nodeClient(inv);
    try {
      const res = await client.disclose({
        sessionId: session,
        auditorPublicKey: key,
        witnessKeys,
        witnessQuorum: quorum ?? 0,
      });
      await writePrivateAtomically(out, res.sealedPackage);
      emit(
        inv,
        {
          session_id: session,
          out,
          attestation_index: Number(res.attestationIndex),
          sample_size: res.sampleSize,
          seed: witnessKeys.length > 0 ? "witnessed-v2" : "v1",
          bytes: res.sealedPackage.length,
        },
        `${out}: ${res.sampleSize} pairs of session ${session} (attestation at log index ${res.attestationIndex}), sealed to the auditor; check with 'lineage audit disclosure ${out} --key FILE'`,
      );
      return EXIT.ok;
    } catch (err) {
      throw cliErrorFromNode(err, whereOf(inv));
    } finally {
      client.close();
    }
  },
};

export const auditDisclosureKey: Command = {
  name: "disclosure-key",
  summary: "Make an auditor's X25519 key pair for sealed disclosures (prints the public key).",
  options: {
    out: {
      type: "string",
      valueName: "file",
      required: true,
      description: "Private key file to create (0600; never overwritten)",
    },
  },
  run: async (inv) => {
    const out = (await writableFileOpt(inv, "out")) as string;
    if (
      await stat(out).then(
        () => true,
        () => false,
      )
    )
      throw new CliError(
        "invalid_argument",
        `${whereOf(inv)}: --out ${out} exists; a key file is never overwritten`,
      );
    const k = generateAuditorKey();
    await writePrivateAtomically(out, k.privateKeyText);
    emit(
      inv,
      { key_file: out, public_key: k.publicKeyText },
      `${k.publicKeyText}\n(private key in ${out}; give the public key to the member: lineage member disclose --to ...)`,
    );
    return EXIT.ok;
  },
};
