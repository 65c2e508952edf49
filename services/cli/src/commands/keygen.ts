/**
 * Key files of the roles. `keygen` creates an Ed25519 signing key: the private key is written to a
 * file only (mode 0600, never printed, never overwritten without --force); what is printed is what
 * others need — the key id and public key, and for the hub the checkpoint verifier key auditors trust.
 */
import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Ed25519PrivateKey, Ed25519PublicKey, formatVerifierKey } from "@lineage/crypto";
import { CliError, EXIT } from "../cli-error.js";
import type { Command, Invocation } from "../command.js";
import { emit, requiredStringOpt, stringOpt } from "../option-values.js";

function keygenCommand(role: "member" | "hub"): Command {
  return {
    name: "keygen",
    summary:
      role === "hub"
        ? "Create the hub's Ed25519 key; prints the checkpoint verifier key auditors trust."
        : "Create an Ed25519 signing key; prints its key id and public key.",
    options: {
      out: {
        type: "string",
        valueName: "file",
        required: true,
        description: "Where to write the private key (PEM)",
      },
      force: { type: "boolean", description: "Overwrite an existing key file" },
      ...(role === "hub"
        ? {
            origin: {
              type: "string",
              valueName: "origin",
              required: true,
              description: "Log origin, e.g. lineage.example/log",
            },
          }
        : {}),
    },
    run: async (inv) => {
      const where = ["lineage", ...inv.path].join(" ");
      const path = resolve(inv.io.cwd, requiredStringOpt(inv, "out"));
      const origin = stringOpt(inv, "origin");
      const key = Ed25519PrivateKey.generate();
      let verifierKey: string | undefined;
      if (origin !== undefined) {
        try {
          verifierKey = formatVerifierKey(origin, key.publicKey);
        } catch (err) {
          throw new CliError("invalid_argument", `${where}: --origin: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      const flags =
        constants.O_WRONLY | constants.O_CREAT | (inv.options.force ? constants.O_TRUNC : constants.O_EXCL);
      try {
        const fh = await open(path, flags, 0o600);
        try {
          await fh.writeFile(key.toPem());
          await fh.chmod(0o600);
        } finally {
          await fh.close();
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST")
          throw new CliError("usage", `${where}: ${path} exists (use --force to replace it)`);
        throw new CliError("unavailable", `${where}: cannot write ${path}: ${code ?? String(err)}`, {
          cause: err,
        });
      }
      const pub = key.publicKey;
      emit(
        inv,
        {
          key_id: key.keyId,
          public_key_pem: pub.toPem(),
          private_key_file: path,
          ...(verifierKey ? { verifier_key: verifierKey } : {}),
        },
        `key id: ${key.keyId}\nprivate key written to ${path} (mode 0600)\n${pub.toPem()}${verifierKey ? `verifier key: ${verifierKey}\n` : ""}`,
      );
      return EXIT.ok;
    },
  };
}

export const memberKeygen = keygenCommand("member");
export const hubKeygen = keygenCommand("hub");

/** Reads a key file named by a flag, bounded (a key file is a few hundred bytes). */
async function readKeyText(
  inv: Invocation,
  file: string,
  flag: string,
): Promise<{ path: string; pem: string }> {
  const where = ["lineage", ...inv.path].join(" ");
  const path = resolve(inv.io.cwd, file);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new CliError(
      "unavailable",
      `${where}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  if (buf.length > 16 * 1024)
    throw new CliError("invalid_argument", `${where}: ${flag} ${path} is too large to be a key`);
  return { path, pem: buf.toString("utf8") };
}

function parseKey<K>(inv: Invocation, flag: string, path: string, what: string, parse: () => K): K {
  try {
    return parse();
  } catch (err) {
    const where = ["lineage", ...inv.path].join(" ");
    throw new CliError("invalid_argument", `${where}: ${flag} ${path} is not an Ed25519 ${what} key in PEM`, {
      cause: err,
    });
  }
}

/** Reads an Ed25519 private key (PEM) named by a flag; errors name the flag and the file. */
export async function readPrivateKeyFile(
  inv: Invocation,
  file: string,
  flag: string,
): Promise<Ed25519PrivateKey> {
  const { path, pem } = await readKeyText(inv, file, flag);
  return parseKey(inv, flag, path, "private", () => Ed25519PrivateKey.fromPem(pem));
}

/** Reads an Ed25519 public key (PEM) named by a flag; errors name the flag and the file. */
export async function readPublicKeyFile(
  inv: Invocation,
  file: string,
  flag: string,
): Promise<Ed25519PublicKey> {
  const { path, pem } = await readKeyText(inv, file, flag);
  return parseKey(inv, flag, path, "public", () => Ed25519PublicKey.fromPem(pem));
}

export const memberPubkey: Command = {
  name: "pubkey",
  summary: "Print the key id and public key of a private key file.",
  options: {
    key: { type: "string", valueName: "file", required: true, description: "Private key file (PEM)" },
  },
  run: async (inv) => {
    const key = await readPrivateKeyFile(inv, requiredStringOpt(inv, "key"), "--key");
    emit(
      inv,
      { key_id: key.keyId, public_key_pem: key.publicKey.toPem() },
      `key id: ${key.keyId}\n${key.publicKey.toPem()}`,
    );
    return EXIT.ok;
  },
};
