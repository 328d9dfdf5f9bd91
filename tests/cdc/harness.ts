/**
 * The CDC suites' shared parts: per-run table, slot and publication names on the shared PostgreSQL (slots are
 * always dropped afterwards: a forgotten slot retains WAL on the shared server), dist/cdc started with a config,
 * and a Subscribe reader that collects change events.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { type ChangeEvent, CdcPattern } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { connect, type Target } from "../acceptance/target";
import { configuredPattern, type StartedPattern, startPattern } from "../helpers/process";
import { postgresUrl, redisUrl, requireService } from "../helpers/services";
import { startNatsServer } from "../nats/server";
import { waitFor } from "../helpers/wait";

export type SlotMap = Record<string, { driver: string; config?: Record<string, unknown> }>;

/** Names no other run uses: a table (or several), the slot, the publication. */
export function runNames(label: string) {
  const id = `${label}_${randomBytes(3).toString("hex")}`;
  return { id, table: `cdc_${id}`, slot: `cdc_${id}`, publication: `cdc_${id}_pub` };
}

export async function admin(): Promise<pg.Client> {
  await requireService("postgres");
  const c = new pg.Client({ connectionString: postgresUrl() });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/** Drops the run's slot (ending a connection still holding it), publication and tables. */
export async function dropRun(db: pg.Client, names: { slot: string; publication: string }, tables: string[]): Promise<void> {
  await db.query("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", [names.slot]);
  await waitFor(
    async () => (await db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active", [names.slot])).rowCount === 0,
    `slot ${names.slot} is released`,
  );
  await db.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [names.slot]);
  await db.query(`DROP PUBLICATION IF EXISTS "${names.publication}"`);
  for (const t of tables) await db.query(`DROP TABLE IF EXISTS "${t}"`);
}

export function sourceSlot(names: { slot: string; publication: string }) {
  return { driver: "postgres_logical", config: { url: postgresUrl(), slot: names.slot, publication: names.publication, status_interval: "1s" } };
}

/** dist/cdc started directly with this config; close() stops it by pid and fails on an unclean exit. */
export async function startCdc(config: Record<string, unknown>, args: string[] = []) {
  return configuredPattern("cdc", config, undefined, args);
}

export type CdcClient = ReturnType<typeof connect<{ cdc: typeof CdcPattern }>>;

export function cdcClient(t: Pick<Target, "address" | "metadata">): CdcClient {
  return connect({ ...t, close: async () => {} }, { cdc: CdcPattern });
}

/** A Subscribe call collecting events in the background until stop(). */
export function reader(c: CdcClient, fromLsn = "") {
  const events: ChangeEvent[] = [];
  const ac = new AbortController();
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const e of c.cdc.subscribe({ fromLsn }, { signal: ac.signal, timeoutMs: 600_000 })) events.push(e);
    } catch (err) {
      if (!ac.signal.aborted) failure = err;
    }
  })();
  return {
    events,
    failure: () => failure,
    /** Waits until `n` events of `table` arrived (a failed stream fails the wait at once). */
    async waitCount(n: number, table?: string, timeoutMs = 30_000) {
      const have = () => (table ? events.filter((e) => e.table === table).length : events.length);
      try {
        await waitFor(
          () => {
            if (failure) throw failure;
            return have() >= n;
          },
          `${n} events${table ? ` of ${table}` : ""} arrived`,
          { timeoutMs },
        );
      } catch (err) {
        // Whether capture or the Subscribe stream stalled: the pattern's own account, in the failure.
        const status = await c.cdc.getStatus({}, { timeoutMs: 5_000 }).then(
          (s) => `state ${s.state}, events_total ${s.eventsTotal}, lag ${s.lagBytes} B / ${s.lagSeconds.toFixed(1)} s, error "${s.error}"`,
          (e) => `GetStatus failed: ${(e as Error).message}`,
        );
        throw new Error(`${(err as Error).message} (have ${have()}; ${status})`);
      }
    },
    async stop() {
      ac.abort();
      await done;
    },
  };
}

/** The identity of a change: commit LSN and position. */
export const changeId = (e: ChangeEvent) => `${e.lsn}/${e.position}`;

export async function waitStreaming(c: CdcClient, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await c.cdc.getStatus({})).state === "streaming", "capture is streaming", { timeoutMs });
}

/** The checkpoint in the shared Redis under a per-run prefix; cleanup deletes it. */
export function redisState(id: string) {
  const prefix = `cdc-test-${id}:`;
  return {
    slot: { driver: "redis", config: { address: redisUrl(), key_prefix: prefix } },
    cleanup: async () => {
      const r = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
      try {
        const keys = await r.keys(`${prefix}*`);
        if (keys.length > 0) await r.del(...keys);
      } finally {
        r.disconnect();
      }
    },
  };
}

/** A NATS JetStream sink on a nats-server of the test's own (stoppable by pid, same port and data on restart). */
export async function natsSink() {
  const server = await startNatsServer();
  return {
    server,
    slot: { driver: "nats", config: { url: server.url, ping_interval: "1s", reconnect_wait: "50ms", reconnect_max_wait: "500ms", request_timeout: "2s" } },
  };
}

/**
 * dist/cdc that a test may kill -9: started from a config file the test owns, so a restart uses the same file.
 * close() stops it (SIGTERM) and fails on an unclean exit; kill() is SIGKILL, as a crash.
 */
export async function cdcProcess(config: Record<string, unknown>, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "prism-cdc-"));
  const file = join(dir, "cdc.yaml");
  writeFileSync(file, JSON.stringify(config));
  let p: StartedPattern | undefined;
  const start = async () => {
    p = await startPattern("cdc", ["--config", file, ...args]);
    return p;
  };
  await start();
  return {
    get address() {
      return p!.address;
    },
    output: () => p?.output() ?? "",
    start,
    kill: async () => {
      p!.proc.kill("SIGKILL");
      await p!.exited;
    },
    close: async () => {
      const code = await p!.stop(15_000);
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`cdc exited with ${code}:\n${p!.output().slice(-4000)}`);
    },
  };
}
