/**
 * A PostgreSQL server of a test's own, on a free loopback port in a temporary folder, that the test can kill
 * (SIGKILL, by pid) and start again with the same data, without disturbing the server of scripts/services.
 * Binaries as scripts/services/postgres.sh finds them; as root it runs as the `postgres` system user (PostgreSQL
 * refuses root). Authentication is trust: the outage tests are about the connection, not the login.
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SQL } from "bun";
import { startProcess, type StartedProcess } from "../helpers/process";
import { freePort } from "../nats/server";

function bindir(): string {
  const candidates = [process.env.PRISM_PG_BINDIR ?? ""];
  const initdb = Bun.which("initdb");
  if (initdb) candidates.push(dirname(realpathSync(initdb)));
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  const found = candidates.find((d) => d && existsSync(join(d, "initdb")) && existsSync(join(d, "postgres")));
  if (!found) throw new Error("PostgreSQL binaries not found: run `make services` (scripts/services/up.sh postgres installs them)");
  return found;
}

/** uid/gid to run as: the current user, or the postgres (else prism-pg) system user when root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ["postgres", "prism-pg"]) {
    const id = Bun.spawnSync(["id", "-u", user]);
    if (id.exitCode === 0) {
      const uid = Number(id.stdout.toString().trim());
      const gid = Number(Bun.spawnSync(["id", "-g", user]).stdout.toString().trim());
      return { uid, gid };
    }
  }
  throw new Error("running as root and there is no postgres (or prism-pg) system user: run `make services` first");
}

/** The pids of a process's children (Linux: /proc/<pid>/task/<tid>/children). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

export interface OwnPostgres {
  readonly port: number;
  /** Config map for the postgres pattern/driver. */
  readonly config: Record<string, unknown>;
  /** SIGKILL, as a crash would; the data stays. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves once it answers. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT of the server and every backend (its process group): connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
  /** Kills it and removes its data. */
  close(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = bindir();
  const as = runAs();
  const prefix = as ? ["setpriv", `--reuid=${as.uid}`, `--regid=${as.gid}`, "--clear-groups", "--"] : [];
  const dir = mkdtempSync(join(tmpdir(), "prism-pg-"));
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, "data");
  const init = Bun.spawnSync([...prefix, join(bin, "initdb"), "-D", data, "-U", "prism", "--auth=trust", "--encoding=UTF8", "--locale=C"]);
  if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.stderr.toString()}`);
  const port = await freePort();
  let proc: StartedProcess | undefined;
  const spawn = () =>
    startProcess([
      ...prefix,
      join(bin, "postgres"),
      "-D",
      data,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `port=${port}`,
      "-c",
      "unix_socket_directories=",
      "-c",
      "fsync=off",
    ]);
  const start = async () => {
    proc = spawn();
    const deadline = Date.now() + 30_000;
    for (;;) {
      // Backends of a killed server may hold its shared memory for a moment: start again once they are gone.
      if (proc.proc.exitCode !== null) proc = spawn();
      const sql = new SQL({ hostname: "127.0.0.1", port, username: "prism", database: "postgres", max: 1, connectionTimeout: 1 });
      try {
        await sql`select 1`;
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`own postgres did not start: ${(err as Error).message}\n${proc?.output()}`);
        await Bun.sleep(100);
      } finally {
        await sql.close().catch(() => undefined);
      }
    }
  };
  const kill = async () => {
    if (!proc || proc.proc.exitCode !== null || proc.proc.signalCode !== null) return;
    proc.proc.kill("SIGKILL");
    await proc.exited;
  };
  // Each backend is a session leader of its own (PostgreSQL calls setsid), so a freeze signals the server's
  // children one by one, by pid: the server first (it forks no backend while stopped), then each child.
  const signalGroup = (sig: NodeJS.Signals) => {
    if (!proc || proc.proc.exitCode !== null || proc.proc.signalCode !== null) return;
    const pids = [proc.pid, ...childrenOf(proc.pid)];
    for (const pid of sig === "SIGCONT" ? pids.reverse() : pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
  };
  await start();
  return {
    port,
    config: { host: "127.0.0.1", port, database: "postgres", user: "prism", password: "unused" },
    kill,
    start,
    pause: () => signalGroup("SIGSTOP"),
    resume: () => signalGroup("SIGCONT"),
    close: async () => {
      signalGroup("SIGCONT");
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
