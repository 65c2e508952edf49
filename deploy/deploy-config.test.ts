/**
 * deploy/compose.yaml and the Kubernetes manifests (deploy/kustomization.yaml, deploy/k8s/*.yaml) cannot be
 * run here (no container engine), so this test reads them and checks that they match what the programs read:
 *
 * - every `lineage` command line is parsed by the CLI's own parser (the real command tree of @lineage/cli,
 *   each `run` swapped for a recorder): unknown commands or flags, missing required flags and repeated
 *   single flags fail exactly as `lineage` would fail at start;
 * - every environment variable given to a program is one it reads — derived from the sources (`env.NAME` in
 *   services/cli/src, the LINEAGE_MEMBER_* overrides in the member node's config module) and, for the
 *   images we do not build, the variables their documentation names — or one a k8s $(NAME) expands;
 * - each member node's config file goes through the member node's own checker with the environment the
 *   deployment gives it, and every file it names is mounted in that container;
 * - every absolute path on a command line or in an environment value is mounted (secret, config, volume);
 * - listen ports match the ports exposed (compose) or declared and targeted by Services (k8s); the
 *   addresses services dial (hub, witness, NATS, Postgres) name a service listening on that port;
 * - every volume, secret, config and ConfigMap/Secret key named exists and every one declared is used;
 * - the NATS cluster: three servers with distinct names, routes to each other, the files nats-server.conf
 *   names mounted, one NATS user per member; `nats-server -t` accepts nats-cluster.conf.
 * Each family of checks is also run on a broken copy to show it can fail.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { type Command, type CommandIo, type Invocation, root, runCommand } from "@lineage/cli";
import { checkMemberNodeConfig, type MemberNodeConfig } from "@lineage/member-node";
import { checkListenSecurity } from "@lineage/rpc";
import { parse, parseAllDocuments } from "yaml";

const here = import.meta.dirname;
const repo = join(here, "..");
const read = (rel: string) => readFileSync(join(here, rel), "utf8");
// YAML 1.1 like Docker Compose and Kubernetes: `mode: 0400` is octal.
const yaml = (text: string) => parse(text, { version: "1.1" }) as unknown;
const yamlDocs = (text: string) =>
  parseAllDocuments(text, { version: "1.1" }).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join("; "));
    return d.toJS() as unknown;
  });

type Obj = Record<string, unknown>;
const obj = (v: unknown, what: string): Obj => {
  assert.ok(typeof v === "object" && v !== null && !Array.isArray(v), `${what} must be a mapping`);
  return v as Obj;
};
const arr = (v: unknown, what: string): unknown[] => {
  if (v === undefined) return [];
  assert.ok(Array.isArray(v), `${what} must be a list`);
  return v;
};
const strs = (v: unknown, what: string): string[] =>
  arr(v, what).map((x) => {
    assert.equal(typeof x, "string", `${what}: ${JSON.stringify(x)} must be a string`);
    return x as string;
  });

// ---- what the programs read, from their sources --------------------------------------------------------

function walkTs(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkTs(p, out);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

/** Environment variables the `lineage` command reads (`env.NAME` / `env["NAME"]` in services/cli/src). */
const cliEnv = new Set<string>();
for (const f of walkTs(join(repo, "services/cli/src"))) {
  for (const m of readFileSync(f, "utf8").matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\["([A-Z][A-Z0-9_]*)"\])/g))
    cliEnv.add((m[1] ?? m[2]) as string);
}
/** The member node's config overrides (its config module's LINEAGE_MEMBER_* names). */
const memberEnv = new Set(
  [
    ...readFileSync(join(repo, "services/member-node/src/config/member-node-config.ts"), "utf8").matchAll(
      /"(LINEAGE_MEMBER_[A-Z0-9_]+)"/g,
    ),
  ].map((m) => m[1] as string),
);
/** Read by Node.js itself. */
const nodeEnv = new Set(["NODE_EXTRA_CA_CERTS", "NODE_OPTIONS"]);
/** Read by the postgres image's entrypoint (its documentation) and by deploy/postgres/docker-init.sh. */
const postgresEnv = new Set([
  "POSTGRES_PASSWORD_FILE",
  "POSTGRES_USER",
  "POSTGRES_DB",
  "PGDATA",
  ...[...read("postgres/docker-init.sh").matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] as string),
]);

test("the env-var tables derived from the sources are the ones the programs read", () => {
  // Guards the derivation itself: if a rename made these regexes miss, every env check below would be vacuous.
  for (const n of ["LINEAGE_PG_URL", "LINEAGE_MEMBER_CONFIG"]) assert.ok(cliEnv.has(n), n);
  assert.ok(memberEnv.size >= 8, [...memberEnv].join(" "));
  const doc = JSON.parse(read("member/acme.json")) as Obj;
  for (const name of memberEnv) {
    // Each override really is read: the checked config changes when it is set (LINEAGE_MEMBER_PG_SCHEMA
    // needs a Postgres URL; listen/ids/paths need values of their own shape).
    const value =
      name === "LINEAGE_MEMBER_ID"
        ? "zz-other"
        : name === "LINEAGE_MEMBER_LISTEN" || name === "LINEAGE_MEMBER_HUB_ADDRESS"
          ? "10.9.9.9:9999"
          : name === "LINEAGE_MEMBER_PG_URL"
            ? "postgresql://x@db:5432/other"
            : name === "LINEAGE_MEMBER_NATS_URL"
              ? "nats://elsewhere:4222"
              : name === "LINEAGE_MEMBER_PG_SCHEMA"
                ? "other_schema"
                : "/elsewhere/file";
    // The data directory is the embedded database's: read only without a Postgres URL.
    const base =
      name === "LINEAGE_MEMBER_DATA_DIR" ? {} : { LINEAGE_MEMBER_PG_URL: "postgresql://x@db:5432/m" };
    const a = checkMemberNodeConfig(doc, "/etc/lineage", base);
    const b = checkMemberNodeConfig(doc, "/etc/lineage", { ...base, [name]: value });
    assert.notDeepEqual(a, b, `${name} is not read by checkMemberNodeConfig`);
  }
  assert.ok(postgresEnv.has("LINEAGE_DB_KIND"));
});

// ---- the CLI's parser, with every command's run replaced by a recorder ----------------------------------

interface Parsed {
  readonly path: string;
  readonly options: Invocation["options"];
  readonly spec: Command;
}

function recorderTree(cmd: Command, onRun: (inv: Invocation, c: Command) => void): Command {
  // A lazy command (the top level: Command.load) gets its recorder once it is loaded.
  const load = cmd.load;
  if (load) return { ...cmd, load: async () => recorderTree(await load(), onRun) };
  return {
    ...cmd,
    ...(cmd.subcommands ? { subcommands: cmd.subcommands.map((c) => recorderTree(c, onRun)) } : {}),
    ...(cmd.run
      ? {
          run: async (inv: Invocation) => {
            onRun(inv, cmd);
            return 0;
          },
        }
      : {}),
  };
}

/** Parses `argv` exactly as `lineage` does; throws with the CLI's own message when it would refuse it. */
async function parseLineage(argv: readonly string[], env: Obj = {}): Promise<Parsed> {
  let got: Parsed | undefined;
  const tree = recorderTree(root, (inv, c) => {
    got = { path: inv.path.join(" "), options: inv.options, spec: c };
  });
  let err = "";
  const io: CommandIo = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s) },
    env: env as Record<string, string>,
    cwd: "/",
  };
  const code = await runCommand(tree, argv, io);
  if (code !== 0 || got === undefined)
    throw new Error(`lineage ${argv.join(" ")}: ${err.trim()} (exit ${code})`);
  return got;
}

/**
 * A flag about NATS on `hub serve` (--nats) must be given by every deployment of the hub: a replica
 * without it would silently not consume the members' sketches.
 */
function checkHubNats(where: string, p: Parsed): void {
  if (p.path !== "hub serve") return;
  const natsFlags = Object.keys(p.spec.options ?? {}).filter((k) => /nats/i.test(k));
  if (natsFlags.length === 0) return;
  assert.ok(
    natsFlags.some((k) => p.options[k] !== undefined),
    `${where}: lineage hub serve now reads --${natsFlags.join("/--")}; give it the NATS cluster`,
  );
}

/** The commands a deployment runs as long-lived services or one-shot jobs. */
const SERVICE_COMMANDS = new Set(["hub serve", "hub migrate", "member serve", "witness serve"]);

test("the recorder parser refuses what lineage refuses", async () => {
  await assert.rejects(parseLineage(["hub", "serve", "--origin", "o"]), /missing required option --key/);
  await assert.rejects(
    parseLineage(["hub", "serve", "--key", "k", "--origin", "o", "--natz", "x"]),
    /--natz/,
  );
  await assert.rejects(parseLineage(["hub", "srve"]), /unknown command 'srve'/);
  const p = await parseLineage([
    "witness",
    "serve",
    "--name",
    "w",
    "--key",
    "k",
    "--state",
    "s",
    "--log",
    "a=b",
  ]);
  assert.equal(p.path, "witness serve");
  assert.deepEqual(p.options.log, ["a=b"]);
});

// ---- shared checks -------------------------------------------------------------------------------------

function portOf(hostPort: string, what: string): number {
  const m = /:(\d{1,5})$/.exec(hostPort);
  assert.ok(m, `${what}: '${hostPort}' has no port`);
  return Number(m[1]);
}

/** Absolute paths a value names: the whole value, or after `=` / `,` (e.g. --log ORIGIN=/path). */
function pathsIn(value: string): string[] {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return [];
  return [...value.matchAll(/(?:^|[=,])(\/[^\s,=]+)/g)].map((m) => m[1] as string);
}

/** True when `path` is a mount target or lies under a mounted directory. */
function mounted(path: string, mounts: ReadonlyMap<string, "file" | "dir">): boolean {
  for (const [target, kind] of mounts) {
    if (path === target) return true;
    if (kind === "dir" && path.startsWith(`${target.replace(/\/$/, "")}/`)) return true;
  }
  return false;
}

/** Every file a member node config names (all absolute after checking). */
function memberConfigFiles(c: MemberNodeConfig): string[] {
  return [
    c.signingKeyFile,
    ...(c.tls ? [c.tls.certFile, c.tls.keyFile, ...(c.tls.clientCaFile ? [c.tls.clientCaFile] : [])] : []),
    ...c.admin.keyFiles,
    ...Object.values(c.nats?.tls ?? {}),
    ...[c.nats?.nkeyFile, c.nats?.credsFile].filter((x): x is string => x !== undefined),
    ...[c.hub.caFile, c.hub.certFile, c.hub.keyFile].filter((x): x is string => x !== undefined),
    ...c.hub.keyFiles,
    ...[c.battery.file, c.battery.epochKeyFile].filter((x): x is string => x !== undefined),
  ];
}

/** Env names the config file itself says to read (NATS password/token, endpoints' API keys). */
function memberConfigEnvNames(c: MemberNodeConfig): string[] {
  return [
    ...(c.nats?.passEnv ? [c.nats.passEnv] : []),
    ...(c.nats?.tokenEnv ? [c.nats.tokenEnv] : []),
    ...Object.values(c.adapters).flatMap((a) => (a.apiKeyEnv ? [a.apiKeyEnv] : [])),
  ];
}

/** Checks the env names a lineage command gets: each read by it (or expanded into another value). */
function checkLineageEnv(where: string, p: Parsed, env: Obj, expanded: ReadonlySet<string>, extra: string[]) {
  for (const name of Object.keys(env)) {
    if (expanded.has(name) || nodeEnv.has(name) || extra.includes(name)) continue;
    if (p.path.startsWith("member ") && memberEnv.has(name)) continue;
    assert.ok(cliEnv.has(name), `${where}: ${name} is not read by lineage ${p.path}`);
    if (name === "LINEAGE_PG_URL") assert.ok(p.spec.options?.pg, `${where}: lineage ${p.path} has no --pg`);
    if (name === "LINEAGE_MEMBER_CONFIG")
      assert.ok(p.spec.options?.config, `${where}: lineage ${p.path} has no --config`);
  }
}

/** NATS facts from deploy/nats: client port, cluster port, files the server opens, member users. */
function natsFacts() {
  const conf = read("nats/nats-server.conf");
  const cluster = read("nats/nats-cluster.conf");
  const clientPort = portOf(/^listen:\s*(\S+)/m.exec(conf)?.[1] ?? "", "nats-server.conf listen");
  const clusterPort = portOf(/^\s*listen:\s*(\S+)/m.exec(cluster)?.[1] ?? "", "nats-cluster.conf listen");
  const files = [...conf.matchAll(/(?:cert_file|key_file|ca_file):\s*"([^"]+)"/g)].map((m) => m[1] as string);
  const storeDir = /store_dir:\s*"([^"]+)"/.exec(conf)?.[1] as string;
  const include = /^include\s+"([^"]+)"/m.exec(cluster)?.[1] as string;
  const routes = [...cluster.matchAll(/"nats-route:\/\/([^"]+)"/g)].map((m) => m[1] as string);
  const members = [...conf.matchAll(/user: "CN=([a-z0-9-]+),OU=member,O=lineage"/g)].map(
    (m) => m[1] as string,
  );
  return { clientPort, clusterPort, files, storeDir, include, routes, members };
}

const settingsEnv = Object.fromEntries(
  read("k8s/settings.env")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
) as Record<string, string>;

/** Values used for ${VAR} (compose) and secret $(VAR) (k8s) when parsing: shaped like real ones. */
const sample = (name: string): string =>
  settingsEnv[name] ??
  (/PASSWORD/.test(name) ? "pw0123456789abcdef" : name === "POD_INDEX" ? "0" : `x-${name}`);

// ---- compose --------------------------------------------------------------------------------------------

/** Substitutes ${VAR}, ${VAR:?msg}, ${VAR:-default}; collects the names. */
function interpolate(text: string, names: Set<string>): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::?[?-][^}]*)?\}/g, (_m, n: string) => {
    names.add(n);
    return sample(n);
  });
}

async function checkCompose(text: string): Promise<void> {
  const used = new Set<string>();
  const doc = obj(yaml(interpolate(text, used)), "compose.yaml");
  // ${VAR}s are documented in env.example.
  const documented = new Set([...read("env.example").matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]));
  for (const n of used) assert.ok(documented.has(n), `compose.yaml uses \${${n}}, which env.example lacks`);

  const services = obj(doc.services, "services");
  const volumes = obj(doc.volumes ?? {}, "volumes");
  const secrets = obj(doc.secrets ?? {}, "secrets");
  const configs = obj(doc.configs ?? {}, "configs");
  const usedVolumes = new Set<string>();
  const usedSecrets = new Set<string>();
  const usedConfigs = new Set<string>();
  const dockerfile = read("Dockerfile");
  const imageUid = /^USER node$/m.test(dockerfile) ? "1000" : undefined;
  assert.match(dockerfile, /ENTRYPOINT \["node", "[^"]*services\/cli\/bin\/lineage\.js"\]/);

  for (const [, c] of Object.entries(configs))
    readFileSync(join(here, String(obj(c, "config").file)), "utf8"); // each config file exists
  for (const [name, s] of Object.entries(secrets)) {
    const file = String(obj(s, `secret ${name}`).file);
    assert.match(
      file,
      /^\.\/secrets\/[A-Za-z0-9._-]+$/,
      `secret ${name} must be a file under deploy/secrets/`,
    );
  }

  /** What a service listens on (port) and whether it is TLS, filled while walking the lineage services. */
  const listens = new Map<string, { port: number; tls: boolean }>();
  const nats = natsFacts();
  const natsServices: string[] = [];
  const memberChecks: Array<() => void> = [];

  for (const [name, raw] of Object.entries(services)) {
    const s = obj(raw, `service ${name}`);
    const where = `compose ${name}`;
    const mounts = new Map<string, "file" | "dir">();
    for (const v of strs(s.volumes, `${where} volumes`)) {
      const [src, target] = v.split(":") as [string, string];
      assert.ok(Object.hasOwn(volumes, src), `${where}: volume ${src} is not declared`);
      usedVolumes.add(src);
      mounts.set(target, "dir");
    }
    for (const x of arr(s.secrets, `${where} secrets`)) {
      const e = typeof x === "string" ? { source: x } : obj(x, `${where} secret`);
      const src = String(e.source);
      assert.ok(Object.hasOwn(secrets, src), `${where}: secret ${src} is not declared`);
      usedSecrets.add(src);
      const target = String(e.target ?? src);
      mounts.set(target.startsWith("/") ? target : `/run/secrets/${target}`, "file");
      if (s.image === "lineage:local" && /key|password/.test(src) && !src.endsWith(".pub.pem")) {
        assert.equal(
          e.mode,
          0o400,
          `${where}: secret ${src} must be mode 0400 (programs refuse readable keys)`,
        );
        assert.equal(e.uid, imageUid, `${where}: secret ${src} must belong to the image's user`);
      }
    }
    for (const x of arr(s.configs, `${where} configs`)) {
      const e = obj(x, `${where} config`);
      const src = String(e.source);
      assert.ok(Object.hasOwn(configs, src), `${where}: config ${src} is not declared`);
      usedConfigs.add(src);
      mounts.set(String(e.target), "file");
    }
    for (const d of Object.keys(obj(s.depends_on ?? {}, `${where} depends_on`)))
      assert.ok(Object.hasOwn(services, d), `${where}: depends on unknown service ${d}`);
    const env = obj(s.environment ?? {}, `${where} environment`);
    const argv = strs(s.command, `${where} command`);

    if (s.image === "lineage:local") {
      const p = await parseLineage(argv, env);
      assert.ok(SERVICE_COMMANDS.has(p.path), `${where}: lineage ${p.path} is not a service command`);
      for (const v of [...argv, ...Object.values(env).map(String)])
        for (const path of pathsIn(v)) assert.ok(mounted(path, mounts), `${where}: ${path} is not mounted`);
      let extra: string[] = [];
      const expose = strs(s.expose, `${where} expose`).map(Number);
      if (p.path === "member serve") {
        const cfgPath = String(env.LINEAGE_MEMBER_CONFIG ?? p.options.config);
        const cfgSource = arr(s.configs, "")
          .map((x) => obj(x, ""))
          .find((c) => c.target === cfgPath)?.source;
        assert.ok(cfgSource !== undefined, `${where}: the member config ${cfgPath} is not a mounted config`);
        const file = String(obj(configs[String(cfgSource)], "").file);
        const cfg = checkMemberNodeConfig(
          JSON.parse(read(file)),
          "/etc/lineage",
          env as Record<string, string>,
        );
        assert.equal(cfg.memberId, name, `${where}: its config is member ${cfg.memberId}`);
        for (const f of memberConfigFiles(cfg))
          assert.ok(mounted(f, mounts), `${where}: ${f} is not mounted`);
        extra = memberConfigEnvNames(cfg);
        for (const n of extra)
          assert.ok(Object.hasOwn(env, n), `${where}: its config reads ${n}, which is unset`);
        assert.deepEqual(expose, [portOf(cfg.listen, `${where} listen`)], `${where}: expose != listen`);
        assert.ok(cfg.tls?.clientCaFile, `${where}: off loopback a member node needs mutual TLS`);
        assert.equal(cfg.database.kind, "postgres", `${where}: a deployed member node uses Postgres`);
        assert.ok(nats.members.includes(cfg.memberId), `${where}: no NATS user for member ${cfg.memberId}`);
        memberChecks.push(() => {
          const db = new URL((cfg.database as { url: string }).url);
          assert.equal(
            obj(services[db.hostname], `${where}: database host ${db.hostname}`).image,
            "postgres:16",
          );
          assert.equal(Number(db.port || 5432), 5432);
          const natsUrl = new URL(cfg.nats?.url ?? "");
          assert.ok(natsServices.length === 3, "three NATS servers");
          // The NATS URL's host is every NATS server's network alias (clients reach any of the three).
          for (const n of natsServices) {
            const net = obj(obj(services[n], n).networks, `${n} networks`).alliance;
            const aliases = strs(net === undefined ? [] : obj(net, `${n} alliance`).aliases, "aliases");
            assert.ok(
              aliases.includes(natsUrl.hostname),
              `${where}: ${natsUrl.hostname} is not an alias of ${n}`,
            );
          }
          assert.equal(Number(natsUrl.port), nats.clientPort, `${where}: NATS port`);
          assert.ok(cfg.nats?.tls?.certFile, `${where}: NATS maps users from client certificates`);
          const hub = cfg.hub.address as string;
          const hubHost = hub.slice(0, hub.lastIndexOf(":"));
          assert.deepEqual(
            listens.get(hubHost),
            { port: portOf(hub, "hub.address"), tls: true },
            `${where}: hub`,
          );
        });
      } else if (p.path === "hub serve" || p.path === "witness serve") {
        const listen = String(p.options.listen);
        const tls = p.options["tls-cert"] !== undefined;
        checkListenSecurity(
          listen,
          p.options["tls-client-ca"] !== undefined ? "mtls" : tls ? "tls" : "plaintext",
          {
            requireClientCerts: p.options["require-client-cert"] === true,
          },
        );
        assert.deepEqual(expose, [portOf(listen, `${where} --listen`)], `${where}: expose != --listen`);
        listens.set(name, { port: portOf(listen, where), tls });
      }
      checkLineageEnv(where, p, env, new Set(), extra);
      checkHubNats(where, p);
      if (p.path === "hub serve") {
        const replicas = obj(s.deploy ?? {}, "deploy").replicas;
        assert.ok(Number(replicas) >= 2, `${where}: the hub runs two replicas`);
        memberChecks.push(() => {
          for (const w of strs(p.options.witness, "--witness")) {
            const u = new URL(w.slice(0, w.indexOf(",")));
            assert.deepEqual(
              listens.get(u.hostname),
              { port: Number(u.port), tls: u.protocol === "https:" },
              `${where}: --witness ${u.host}`,
            );
          }
        });
      }
      if (p.path === "witness serve") {
        assert.equal(mounts.get(String(p.options.state)), "dir", `${where}: --state must be a volume`);
      }
    } else if (s.image === "postgres:16") {
      for (const n of Object.keys(env))
        assert.ok(postgresEnv.has(n), `${where}: the postgres image ignores ${n}`);
      assert.equal(mounts.get("/var/lib/postgresql/data"), "dir", `${where}: data on a volume`);
      assert.ok(mounts.has("/docker-entrypoint-initdb.d/lineage-init.sh"), `${where}: docker-init.sh`);
      const kind = String(env.LINEAGE_DB_KIND);
      const init = read("postgres/docker-init.sh");
      const block = new RegExp(`^  ${kind}\\)\\n([\\s\\S]*?);;`, "m").exec(init)?.[1];
      assert.ok(block, `${where}: LINEAGE_DB_KIND ${kind} is not handled by docker-init.sh`);
      for (const m of block.matchAll(/(\/(?:run|etc)\/[A-Za-z0-9._/-]+)/g))
        assert.ok(mounted(m[1] as string, mounts), `${where}: docker-init.sh reads ${m[1]}, not mounted`);
      assert.ok(mounted(String(env.POSTGRES_PASSWORD_FILE), mounts), `${where}: POSTGRES_PASSWORD_FILE`);
    } else if (s.image === "nats:2.10") {
      assert.deepEqual(Object.keys(env), [], `${where}: the nats image reads no environment here`);
      const conf = argv[argv.indexOf("-c") + 1] as string;
      assert.ok(mounted(conf, mounts), `${where}: -c ${conf} not mounted`);
      assert.ok(
        mounted(join(conf, "..", nats.include), mounts),
        `${where}: include ${nats.include} not mounted`,
      );
      for (const f of nats.files) assert.ok(mounted(f, mounts), `${where}: nats-server.conf opens ${f}`);
      assert.equal(mounts.get(nats.storeDir), "dir", `${where}: JetStream store_dir must be a volume`);
      const serverName = argv[argv.indexOf("--name") + 1];
      assert.equal(serverName, name, `${where}: --name is the service name`);
      natsServices.push(name);
    } else {
      assert.fail(`${where}: unexpected image ${String(s.image)}`);
    }
  }
  for (const check of memberChecks) check();
  assert.deepEqual(natsServices.sort(), nats.routes.map((r) => r.slice(0, r.indexOf(":"))).sort(), "routes");
  for (const r of nats.routes) assert.equal(portOf(r, "route"), nats.clusterPort);
  assert.deepEqual([...usedVolumes].sort(), Object.keys(volumes).sort(), "every volume is used");
  assert.deepEqual([...usedSecrets].sort(), Object.keys(secrets).sort(), "every secret is used");
  assert.deepEqual([...usedConfigs].sort(), Object.keys(configs).sort(), "every config is used");
  const members = Object.entries(services).filter(
    ([, s]) => strs(obj(s, "").command, "").join(" ") === "member serve",
  );
  assert.equal(members.length, 3, "three member nodes");
}

test("compose.yaml: services, flags, environment, ports, volumes, secrets match the programs", async () => {
  await checkCompose(read("compose.yaml"));
});

test("compose checks fail on a broken compose file", async () => {
  const good = read("compose.yaml");
  const broken: Array<[string, string, RegExp]> = [
    ["--require-client-cert", "--require-client-certs", /unknown option '--require-client-certs'/],
    ["      - --origin\n", "", /missing required option --origin|unexpected argument/],
    [
      "LINEAGE_MEMBER_CONFIG: /etc",
      "LINEAGE_MEMBER_CONFG: /etc",
      /LINEAGE_MEMBER_CONFG is not read|not a mounted config/,
    ],
    ['expose: ["7443"]', 'expose: ["7444"]', /expose != --listen/],
    ["- 0.0.0.0:7380", "- 0.0.0.0:7381", /expose != --listen/],
    [
      "witness-state:/var/lib/lineage/witness",
      "witness-stat:/var/lib/lineage/witness",
      /volume witness-stat/,
    ],
    ['      - { source: acme-client.key, uid: "1000", mode: 0400 }\n', "", /acme-client.key is not mounted/],
    [
      "mode: 0400 }\n      - { source: hub-tls.pem",
      "mode: 0444 }\n      - { source: hub-tls.pem",
      /must be mode 0400/,
    ],
    ["https://witness:7380", "https://witnes:7380", /--witness witnes/],
    ["NODE_EXTRA_CA_CERTS: /run", "NODE_EXTRA_CA_CERT: /run", /NODE_EXTRA_CA_CERT is not read/],
    [
      "LINEAGE_PG_URL: postgresql://lineage_hub_service",
      "LINEAGE_PG_URI: postgresql://lineage_hub_service",
      /LINEAGE_PG_URI is not read/,
    ],
    [
      "LINEAGE_DB_KIND: member\n    secrets:\n      - acme",
      "LINEAGE_DB_KIND: membr\n    secrets:\n      - acme",
      /membr is not handled/,
    ],
    ['"--name", "nats-2"', '"--name", "nats-9"', /--name is the service name/],
  ];
  for (const [from, to, msg] of broken) {
    assert.ok(good.includes(from), `fixture: ${from}`);
    await assert.rejects(checkCompose(good.replace(from, to)), msg, `${from} -> ${to}`);
  }
});

// ---- Kubernetes -----------------------------------------------------------------------------------------

interface K8sObject {
  kind: string;
  name: string;
  doc: Obj;
}

async function checkK8s(kustomizationText: string, overrides: Record<string, string> = {}): Promise<void> {
  const kz = obj(yaml(kustomizationText), "kustomization.yaml");
  const objects: K8sObject[] = [];
  for (const r of strs(kz.resources, "resources")) {
    const text = overrides[r] ?? read(r);
    for (const d of yamlDocs(text)) {
      const o = obj(d, r);
      objects.push({ kind: String(o.kind), name: String(obj(o.metadata, `${r} metadata`).name), doc: o });
    }
  }
  // Generated ConfigMaps and Secrets: name -> keys (file basenames, or the env file's names).
  const generated = new Map<string, { kind: "ConfigMap" | "Secret"; keys: Set<string> }>();
  for (const [field, kind] of [
    ["configMapGenerator", "ConfigMap"],
    ["secretGenerator", "Secret"],
  ] as const) {
    for (const g of arr(kz[field], field).map((x) => obj(x, field))) {
      const keys = new Set<string>();
      for (const f of strs(g.files, `${g.name} files`)) {
        if (f.startsWith("secrets/")) assert.match(f, /^secrets\/[A-Za-z0-9._-]+$/);
        else readFileSync(join(here, f)); // committed files exist
        keys.add(basename(f));
      }
      for (const f of strs(g.envs, `${g.name} envs`))
        for (const m of read(f).matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)) keys.add(m[1] as string);
      generated.set(String(g.name), { kind, keys });
    }
  }
  const compose = obj(yaml(interpolate(read("compose.yaml"), new Set())), "compose");
  const composeSecretFiles = new Set(
    Object.values(obj(compose.secrets, "")).map((s) => String(obj(s, "").file).slice(2)),
  );
  for (const g of arr(kz.secretGenerator, "").map((x) => obj(x, "")))
    for (const f of strs(g.files, ""))
      if (!/member-db/.test(f)) assert.ok(composeSecretFiles.has(f), `${f} unknown to compose`);

  const services = objects.filter((o) => o.kind === "Service");
  const workloads = objects.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind));
  const usedGenerated = new Set<string>();
  const nats = natsFacts();
  /** Service name -> {port, targetPort resolved to a container port number, tls of the target}. */
  const podPorts = new Map<
    string,
    { labels: Obj; ports: Map<string, number>; listen: Map<number, boolean> }
  >();
  const deferred: Array<() => void> = [];

  for (const w of workloads) {
    const spec = obj(w.doc.spec, `${w.name} spec`);
    const tmpl = obj(spec.template, `${w.name} template`);
    const labels = obj(obj(tmpl.metadata ?? { labels: {} }, "").labels ?? {}, "labels");
    if (w.kind !== "Job")
      assert.deepEqual(
        obj(obj(spec.selector, "selector").matchLabels, "matchLabels"),
        labels,
        `${w.name}: selector`,
      );
    const pod = obj(tmpl.spec, `${w.name} pod`);
    const replicas = Number(spec.replicas ?? 1);
    const volumes = new Map<string, Obj>();
    for (const v of arr(pod.volumes, "volumes").map((x) => obj(x, "volume"))) volumes.set(String(v.name), v);
    for (const c of arr(spec.volumeClaimTemplates, "claims").map((x) => obj(x, "claim")))
      volumes.set(String(obj(c.metadata, "").name), { name: obj(c.metadata, "").name, pvc: true });
    const usedVolumes = new Set<string>();
    /** emptyDir volume -> the Secret/ConfigMap volume an init container copied into it. */
    const copiedFrom = new Map<string, string>();
    const ports = new Map<string, number>();
    const listen = new Map<number, boolean>();
    for (const v of volumes.values()) {
      const ref = v.configMap
        ? String(obj(v.configMap, "").name)
        : v.secret
          ? String(obj(v.secret, "").secretName)
          : undefined;
      if (ref === undefined) continue;
      const g = generated.get(ref);
      assert.ok(
        g && g.kind === (v.configMap ? "ConfigMap" : "Secret"),
        `${w.name}: volume ${String(v.name)}: no ${ref}`,
      );
      usedGenerated.add(ref);
      for (const it of arr(obj(v.configMap ?? v.secret, "").items, "items").map((x) => obj(x, "item")))
        assert.ok(g.keys.has(String(it.key)), `${w.name}: ${ref} has no key ${String(it.key)}`);
    }
    const containers = [
      ...arr(pod.initContainers, "initContainers").map((x) => ({ c: obj(x, "init"), init: true })),
      ...arr(pod.containers, "containers").map((x) => ({ c: obj(x, "container"), init: false })),
    ];
    for (const { c, init } of containers) {
      const where = `k8s ${w.kind}/${w.name} ${String(c.name)}`;
      const mounts = new Map<string, "file" | "dir">();
      const mountVolume = new Map<string, string>();
      for (const m of arr(c.volumeMounts, "volumeMounts").map((x) => obj(x, "mount"))) {
        const v = volumes.get(String(m.name));
        assert.ok(v, `${where}: volume ${String(m.name)} is not declared`);
        usedVolumes.add(String(m.name));
        mountVolume.set(String(m.mountPath), String(m.name));
        if (m.subPath !== undefined) {
          const ref = v.configMap
            ? String(obj(v.configMap, "").name)
            : v.secret
              ? String(obj(v.secret, "").secretName)
              : "";
          assert.ok(
            generated.get(ref)?.keys.has(String(m.subPath)),
            `${where}: ${ref} has no key ${String(m.subPath)}`,
          );
          mounts.set(String(m.mountPath), "file");
        } else mounts.set(String(m.mountPath), "dir");
      }
      /** A file the program opens is mounted AND present: a key of the Secret/ConfigMap it comes from. */
      const provided = (path: string, what: string) => {
        assert.ok(mounted(path, mounts), `${what}: ${path} is not mounted`);
        if (mounts.has(path)) return; // a subPath file (key checked above) or a whole directory
        const target = [...mounts.keys()].find((t) => path.startsWith(`${t.replace(/\/$/, "")}/`)) as string;
        const rel = path.slice(target.replace(/\/$/, "").length + 1);
        let vname = mountVolume.get(target) as string;
        vname = copiedFrom.get(vname) ?? vname;
        const v = volumes.get(vname) as Obj;
        if (v.pvc) return;
        const src = obj(v.configMap ?? v.secret, `${what}: volume ${vname} (${path})`);
        const items = arr(src.items, "items").map((x) => obj(x, ""));
        const ref = String(src.name ?? src.secretName);
        const ok = items.length > 0 ? items.some((it) => it.path === rel) : generated.get(ref)?.keys.has(rel);
        assert.ok(ok, `${what}: ${path} is not in ${ref}`);
      };
      // Environment: values for $(NAME) expansion, refs checked against the generated objects.
      const env: Record<string, string> = {};
      for (const e of arr(c.env, "env").map((x) => obj(x, "env"))) {
        const name = String(e.name);
        if (e.value !== undefined)
          env[name] = String(e.value).replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_m, n: string) => {
            assert.ok(Object.hasOwn(env, n), `${where}: ${name} expands $(${n}) before it is set`);
            return env[n] as string;
          });
        else {
          const from = obj(e.valueFrom, `${where} ${name}`);
          const ref = (from.configMapKeyRef ?? from.secretKeyRef) as Obj | undefined;
          if (ref) {
            const g = generated.get(String(ref.name));
            assert.ok(
              g?.keys.has(String(ref.key)),
              `${where}: ${name}: ${String(ref.name)} has no key ${String(ref.key)}`,
            );
            usedGenerated.add(String(ref.name));
            env[name] = from.configMapKeyRef ? (settingsEnv[String(ref.key)] ?? sample(name)) : sample(name);
          } else env[name] = sample(name);
        }
      }
      const expandedNames = new Set<string>();
      const expand = (s: string) =>
        s.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_m, n: string) => {
          assert.ok(Object.hasOwn(env, n), `${where}: $(${n}) is not set`);
          expandedNames.add(n);
          return env[n] as string;
        });
      const rawEnv = arr(c.env, "env").map((x) => obj(x, "env"));
      for (const e of rawEnv)
        if (typeof e.value === "string")
          for (const m of e.value.matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g)) expandedNames.add(m[1] as string);
      const args = strs(c.args, `${where} args`).map(expand);
      for (const p of arr(c.ports, "ports").map((x) => obj(x, "port")))
        ports.set(String(p.name), Number(p.containerPort));

      if (c.image === "lineage:local" && c.command === undefined) {
        assert.ok(!init, `${where}: init containers copy files, they run no lineage service`);
        const p = await parseLineage(args, env);
        assert.ok(SERVICE_COMMANDS.has(p.path), `${where}: lineage ${p.path} is not a service command`);
        for (const v of [...args, ...Object.values(env)])
          for (const path of pathsIn(v)) provided(path, where);
        let extra: string[] = [];
        const declared = arr(c.ports, "ports").map((x) => Number(obj(x, "").containerPort));
        if (p.path === "member serve") {
          for (let i = 0; i < replicas; i++) {
            const podEnv = Object.fromEntries(
              Object.entries(env).map(([k, v]) => [k, v.replaceAll("-0", `-${i}`)]),
            );
            const cfgPath = podEnv.LINEAGE_MEMBER_CONFIG as string;
            // The init container copies config-src's items into the config volume at /etc/lineage.
            const src = volumes.get("config-src");
            const item = arr(obj(src?.configMap, "config-src").items, "")
              .map((x) => obj(x, ""))
              .find((it) => `/etc/lineage/${String(it.path)}` === cfgPath);
            assert.ok(item, `${where}: pod ${i}: ${cfgPath} is not among the copied configs`);
            const cfg = checkMemberNodeConfig(
              JSON.parse(read(`member/${String(item.key)}`)),
              "/etc/lineage",
              podEnv,
            );
            for (const f of memberConfigFiles(cfg)) provided(f, `${where} pod ${i}`);
            extra = memberConfigEnvNames(cfg);
            assert.deepEqual(declared, [portOf(cfg.listen, "listen")], `${where}: containerPort != listen`);
            listen.set(portOf(cfg.listen, "listen"), true);
            const db = new URL((cfg.database as { url: string }).url);
            const [podName, svcName] = db.hostname.split(".") as [string, string];
            deferred.push(() => {
              const sts = workloads.find(
                (x) =>
                  x.kind === "StatefulSet" &&
                  podName === `${x.name}-${podName.slice(x.name.length + 1)}` &&
                  obj(x.doc.spec, "").serviceName === svcName,
              );
              assert.ok(
                sts && Number(podName.slice(sts.name.length + 1)) < Number(obj(sts.doc.spec, "").replicas),
                `${where}: database ${db.hostname}`,
              );
              const natsUrl = new URL(cfg.nats?.url ?? "");
              assertServiceTarget(natsUrl.hostname, Number(natsUrl.port), `${where}: NATS`);
              const hub = cfg.hub.address as string;
              assertServiceTarget(
                hub.slice(0, hub.lastIndexOf(":")),
                portOf(hub, "hub"),
                `${where}: hub`,
                true,
              );
            });
          }
        } else if (p.path === "hub serve" || p.path === "witness serve") {
          const l = String(p.options.listen);
          const tls = p.options["tls-cert"] !== undefined;
          checkListenSecurity(
            l,
            p.options["tls-client-ca"] !== undefined ? "mtls" : tls ? "tls" : "plaintext",
            {
              requireClientCerts: p.options["require-client-cert"] === true,
            },
          );
          assert.deepEqual(declared, [portOf(l, "--listen")], `${where}: containerPort != --listen`);
          listen.set(portOf(l, "--listen"), tls);
          if (p.path === "hub serve") {
            assert.ok(w.kind === "Deployment" && replicas >= 2, `${where}: the hub runs two replicas`);
            for (const wt of strs(p.options.witness, "--witness")) {
              const u = new URL(wt.slice(0, wt.indexOf(",")));
              deferred.push(() =>
                assertServiceTarget(
                  u.hostname,
                  Number(u.port),
                  `${where}: --witness`,
                  u.protocol === "https:",
                ),
              );
            }
          } else {
            const state = String(p.options.state);
            assert.ok(
              volumes.get(
                [...arr(c.volumeMounts, "").map((x) => obj(x, ""))].find((m) => m.mountPath === state)
                  ?.name as string,
              )?.pvc,
              `${where}: --state must be a persistent volume`,
            );
          }
        }
        checkLineageEnv(where, p, env, expandedNames, extra);
        checkHubNats(where, p);
      } else if (c.image === "lineage:local") {
        // The copy step: from Secret/ConfigMap volumes into memory volumes the service mounts.
        assert.deepEqual(c.command?.constructor, Array);
        const script = strs(c.command, "command").join(" ");
        const copies = [...script.matchAll(/install -m 0400 (\S+)\/\* (\S+)\//g)];
        assert.ok(copies.length > 0, `${where}: copies nothing`);
        for (const m of copies) {
          assert.equal(mounts.get(m[1] as string), "dir", `${where}: copies from ${m[1]}, not mounted`);
          assert.equal(mounts.get(m[2] as string), "dir", `${where}: copies to ${m[2]}, not mounted`);
          const to = volumes.get(mountVolume.get(m[2] as string) as string) as Obj;
          assert.ok(to.emptyDir, `${where}: copies into ${m[2]}, which is not an emptyDir`);
          copiedFrom.set(String(to.name), mountVolume.get(m[1] as string) as string);
        }
      } else if (c.image === "postgres:16") {
        for (const n of Object.keys(env))
          assert.ok(postgresEnv.has(n), `${where}: the postgres image ignores ${n}`);
        const init = read("postgres/docker-init.sh");
        const block = new RegExp(`^  ${env.LINEAGE_DB_KIND}\\)\\n([\\s\\S]*?);;`, "m").exec(init)?.[1];
        assert.ok(block, `${where}: LINEAGE_DB_KIND ${env.LINEAGE_DB_KIND} is not handled by docker-init.sh`);
        for (const m of block.matchAll(/(\/(?:run|etc)\/[A-Za-z0-9._/-]+)/g))
          assert.ok(mounted(m[1] as string, mounts), `${where}: docker-init.sh reads ${m[1]}, not mounted`);
        assert.ok(mounted(env.POSTGRES_PASSWORD_FILE as string, mounts), `${where}: POSTGRES_PASSWORD_FILE`);
        assert.ok(
          String(env.PGDATA).startsWith("/var/lib/postgresql/data/"),
          `${where}: PGDATA under the volume`,
        );
        assert.ok(mounts.has("/docker-entrypoint-initdb.d/lineage-init.sh"), `${where}: docker-init.sh`);
        listen.set(5432, false);
      } else if (c.image === "nats:2.10") {
        const conf = args[args.indexOf("-c") + 1] as string;
        assert.ok(
          mounted(conf, mounts) && mounted(join(conf, "..", nats.include), mounts),
          `${where}: config files`,
        );
        for (const f of nats.files) assert.ok(mounted(f, mounts), `${where}: nats-server.conf opens ${f}`);
        assert.equal(mounts.get(nats.storeDir), "dir", `${where}: JetStream store_dir must be a volume`);
        assert.ok(volumes.get("data")?.pvc, `${where}: JetStream data on a persistent volume`);
        assert.equal(
          args[args.indexOf("--name") + 1],
          "$(POD_NAME)".replace("$(POD_NAME)", env.POD_NAME as string),
        );
        assert.equal(replicas, 3, `${where}: three NATS servers`);
        const headless = String(spec.serviceName);
        const routes = (args[args.indexOf("--routes") + 1] as string).split(",");
        assert.deepEqual(
          routes,
          [0, 1, 2].map((i) => `nats-route://${w.name}-${i}.${headless}:${nats.clusterPort}`),
        );
        assert.deepEqual([...ports.values()].sort(), [nats.clientPort, nats.clusterPort].sort());
        listen.set(nats.clientPort, true).set(nats.clusterPort, true);
      } else assert.fail(`${where}: unexpected image ${String(c.image)}`);
    }
    for (const v of volumes.keys()) assert.ok(usedVolumes.has(v), `${w.name}: volume ${v} is not mounted`);
    if (w.kind === "StatefulSet") {
      const svc = services.find((s) => s.name === obj(w.doc.spec, "").serviceName);
      assert.ok(svc, `${w.name}: serviceName names no Service`);
      assert.equal(obj(svc.doc.spec, "").clusterIP, "None", `${w.name}: its serviceName must be headless`);
    }
    podPorts.set(w.name, { labels, ports, listen });
  }

  function assertServiceTarget(host: string, port: number, what: string, tls?: boolean) {
    const svc = services.find((s) => s.name === host);
    assert.ok(svc, `${what}: no Service ${host}`);
    const sp = arr(obj(svc.doc.spec, "").ports, "")
      .map((x) => obj(x, ""))
      .find((x) => Number(x.port) === port);
    assert.ok(sp, `${what}: Service ${host} has no port ${port}`);
    const target = resolveTarget(svc, sp);
    if (tls !== undefined) assert.equal(target.tls, tls, `${what}: TLS mismatch`);
  }

  function resolveTarget(svc: K8sObject, sp: Obj): { tls: boolean } {
    const selector = obj(obj(svc.doc.spec, "").selector, `${svc.name} selector`);
    const pods = [...podPorts.values()].filter((p) =>
      Object.entries(selector).every(([k, v]) => p.labels[k] === v),
    );
    assert.ok(pods.length > 0, `Service ${svc.name}: selects no pods`);
    for (const p of pods) {
      const t =
        typeof sp.targetPort === "string" ? p.ports.get(sp.targetPort) : Number(sp.targetPort ?? sp.port);
      assert.ok(
        t !== undefined && p.listen.has(t),
        `Service ${svc.name}: targetPort ${String(sp.targetPort)} is not a listening port`,
      );
      return { tls: p.listen.get(t) as boolean };
    }
    return { tls: false };
  }

  for (const svc of services)
    for (const sp of arr(obj(svc.doc.spec, "").ports, "ports").map((x) => obj(x, ""))) resolveTarget(svc, sp);
  for (const d of deferred) d();
  for (const name of generated.keys()) assert.ok(usedGenerated.has(name), `generated ${name} is never used`);
}

test("k8s manifests: workloads, flags, environment, ports, Services, ConfigMaps and Secrets match", async () => {
  await checkK8s(read("kustomization.yaml"));
});

test("k8s checks fail on broken manifests", async () => {
  const kz = read("kustomization.yaml");
  for (const [from, to, msg] of [
    ["      - secrets/witness-tls.key\n", "", /witness-tls.key is not in witness/],
    ["name: lineage-settings", "name: settings", /lineage-settings has no key/],
    ["  - k8s/witness.yaml\n", "", /no Service witness/],
  ] as const) {
    assert.ok(kz.includes(from), `fixture: ${from}`);
    await assert.rejects(checkK8s(kz.replace(from, to)), msg, `kustomization: ${from} -> ${to}`);
  }
  const cases: Array<[string, string, string, RegExp]> = [
    ["k8s/hub.yaml", "replicas: 2", "replicas: 1", /two replicas/],
    ["k8s/hub.yaml", "- --require-client-cert\n", "- --require-client-crt\n", /unknown option/],
    ["k8s/hub.yaml", "containerPort: 7443", "containerPort: 7444", /containerPort != --listen/],
    ["k8s/hub.yaml", "targetPort: grpc", "targetPort: grcp", /targetPort grcp/],
    [
      "k8s/hub.yaml",
      "- name: NODE_EXTRA_CA_CERTS",
      "- name: NODE_EXTRA_CERTS",
      /NODE_EXTRA_CERTS is not read/,
    ],
    ["k8s/witness.yaml", "- 0.0.0.0:7380", "- 0.0.0.0:7381", /containerPort != --listen/],
    ["k8s/member-node.yaml", "path: member-1.json", "path: member-7.json", /pod 1: .* is not among/],
    [
      "k8s/member-node.yaml",
      "member-db-$(POD_INDEX).member-db",
      "member-db-$(POD_INDEX).memberdb",
      /database/,
    ],
    [
      "k8s/nats.yaml",
      "nats-2.nats-headless:6222",
      "nats-3.nats-headless:6222",
      /Expected values to be strictly deep-equal/,
    ],
    ["k8s/postgres.yaml", "subPath: hub-db-owner-password", "subPath: hub-db-owner-pw", /hub-db has no key/],
  ];
  for (const [file, from, to, msg] of cases) {
    const text = read(file);
    assert.ok(text.includes(from), `fixture: ${file} ${from}`);
    await assert.rejects(checkK8s(kz, { [file]: text.replace(from, to) }), msg, `${file}: ${from} -> ${to}`);
  }
});

// ---- NATS cluster configuration --------------------------------------------------------------------------

test("nats-server -t accepts nats-cluster.conf (with nats-server.conf included) under each server name", (t) => {
  const natsServer = ["nats-server", "/usr/sbin/nats-server"].find(
    (b) => spawnSync(b, ["--version"]).status === 0,
  );
  if (natsServer === undefined) {
    const ci = process.env.CI;
    if (ci !== undefined && !["", "0", "false", "no", "off"].includes(ci.trim().toLowerCase()))
      assert.fail("nats-server is not installed (CI must validate the NATS configuration)");
    t.skip("nats-server is not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "lineage-nats-cluster-"));
  try {
    for (const n of ["ca", "server"])
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
          "-keyout",
          `${n}.key`,
          "-out",
          `${n}.pem`,
          "-days",
          "1",
          "-subj",
          `/CN=${n}`,
        ]),
        { cwd: dir, stdio: "pipe" },
      );
    const sub = (text: string) =>
      text
        .replaceAll("/etc/nats/tls/server.pem", join(dir, "server.pem"))
        .replaceAll("/etc/nats/tls/server.key", join(dir, "server.key"))
        .replaceAll("/etc/nats/tls/clients-ca.pem", join(dir, "ca.pem"))
        .replaceAll("/var/lib/nats-server", join(dir, "js"));
    writeFileSync(join(dir, "nats-server.conf"), sub(read("nats/nats-server.conf")));
    writeFileSync(join(dir, "nats-cluster.conf"), sub(read("nats/nats-cluster.conf")));
    for (const name of ["nats-1", "nats-2", "nats-3"]) {
      const r = spawnSync(natsServer, ["-t", "-c", join(dir, "nats-cluster.conf"), "--name", name], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
    }
    // The check can fail: a cluster block without its closing brace is refused.
    writeFileSync(join(dir, "bad.conf"), sub(read("nats/nats-cluster.conf")).replace(/\}\s*$/, ""));
    const bad = spawnSync(natsServer, ["-t", "-c", join(dir, "bad.conf")], { encoding: "utf8" });
    assert.notEqual(bad.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("once hub serve has a NATS flag, a deployment that does not give it fails", () => {
  const spec: Command = {
    name: "serve",
    summary: "",
    options: { "nats-url": { type: "string", description: "" } },
  };
  assert.throws(
    () => checkHubNats("x", { path: "hub serve", options: {}, spec }),
    /give it the NATS cluster/,
  );
  checkHubNats("x", { path: "hub serve", options: { "nats-url": "tls://nats:4222" }, spec });
});

test("the README's configuration reference names every service flag and every env var the sources read", async () => {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const start = readme.indexOf("## Configuration reference");
  assert.ok(start >= 0, "README has a Configuration reference");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  for (const path of SERVICE_COMMANDS) {
    let cmd: Command = root;
    for (const word of path.split(" ")) {
      const next = (cmd.subcommands ?? []).find((c) => c.name === word) as Command;
      cmd = next.load ? await next.load() : next;
    }
    assert.ok(section.includes(`\`${path}\``), `README: no row for ${path}`);
    for (const flag of Object.keys(cmd.options ?? {}))
      assert.match(
        section,
        new RegExp(`\`--${flag}[ \`]`),
        `README: lineage ${path} --${flag} is not described`,
      );
  }
  for (const name of [...cliEnv, ...memberEnv])
    assert.ok(section.includes(name), `README: ${name} is not in the configuration reference`);
});
