import { ConfigError, type Driver, type DriverFactory, type HealthReport, type Schema, validate } from "@prism/sdk";
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import type { Socket } from "node:net";
import pg from "pg";
import { formatLsn, type Lsn, parseLsn } from "./lsn";

export interface SourceConfig {
  /** postgres://user:password@host:port/db; the role needs REPLICATION (and to own the tables, to publish them). */
  url: string;
  slot: string;
  publication: string;
  /** How often the pattern tells PostgreSQL where it stands, also while it is paused (wal_sender_timeout is 60 s). */
  status_interval: number;
  connect_timeout: number;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const schema: Schema = {
  type: "object",
  required: ["url", "slot"],
  fields: {
    url: { type: "string" },
    slot: { type: "string" },
    publication: { type: "string", default: "" },
    status_interval: { type: "duration", default: "5s" },
    connect_timeout: { type: "duration", default: "10s" },
  },
};

/** The replication slot as PostgreSQL reports it. */
export interface SlotInfo {
  confirmedFlush: Lsn;
  /** reserved | extended | unreserved | lost (PostgreSQL 13+). */
  walStatus: string;
  /** WAL written since confirmed_flush_lsn, bytes. */
  lagBytes: number;
}

/** What a running replication connection delivers, in the order PostgreSQL sent it. */
export interface StreamHandlers {
  message(m: Pgoutput.Message): void;
  /** The server's WAL position in a keepalive: everything committed before it has been sent. */
  keepalive(walEnd: Lsn): void;
}

/** A running replication connection. */
export interface ReplicationStream {
  /** Resolves when the connection ends (error or stop). */
  readonly ended: Promise<void>;
  /** Tells PostgreSQL the slot may forget WAL before `lsn` (confirmed_flush_lsn = lsn). */
  acknowledge(lsn: Lsn): void;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/**
 * The `source` slot: PostgreSQL through logical replication with the built-in pgoutput plugin, a permanent slot
 * (it survives the pattern, so capture resumes where the slot's confirmed LSN stands) and a publication of the
 * captured tables. Decoding is pg-logical-replication's; acknowledgements are explicit (never automatic), so the
 * slot moves only when the pattern says so.
 */
export class PostgresLogicalSource implements Driver {
  readonly name = "postgres_logical";
  readonly version = "0.1.0";
  readonly publication: string;

  constructor(readonly config: SourceConfig) {
    this.publication = config.publication || `${config.slot}_pub`;
  }

  get slot(): string {
    return this.config.slot;
  }

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>, replication = false): Promise<T> {
    const c = new pg.Client({
      connectionString: this.config.url,
      connectionTimeoutMillis: this.config.connect_timeout,
      ...(replication ? { replication: "database" } : {}),
    } as pg.ClientConfig);
    c.on("error", () => undefined); // a connection lost mid-call fails that call; nothing else listens
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Creates the publication of `tables`, or sets its table list to them. */
  async ensurePublication(tables: readonly string[]): Promise<void> {
    const list = tables.map(quoteQualified).join(", ");
    await this.withClient(async (c) => {
      const found = await c.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [this.publication]);
      if (found.rowCount === 0) await c.query(`CREATE PUBLICATION "${this.publication}" FOR TABLE ${list}`);
      else await c.query(`ALTER PUBLICATION "${this.publication}" SET TABLE ${list}`);
    });
  }

  async slotInfo(): Promise<SlotInfo | undefined> {
    return this.withClient(async (c) => {
      const r = await c.query(
        `SELECT confirmed_flush_lsn::text AS confirmed, wal_status,
                COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint::text AS lag
           FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
        [this.slot],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      return { confirmedFlush: row.confirmed ? parseLsn(row.confirmed) : 0n, walStatus: row.wal_status ?? "", lagBytes: Number(row.lag) };
    });
  }

  async primaryKey(table: string): Promise<string[]> {
    return this.withClient((c) => primaryKey(c, table));
  }

  async dropSlot(): Promise<void> {
    await this.withClient((c) => c.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [this.slot]));
  }

  /**
   * Creates the slot. With `readSnapshot`, the slot is created over a replication connection with EXPORT_SNAPSHOT
   * and `readSnapshot` reads the tables inside a transaction on that exported snapshot: it shows exactly the
   * transactions committed before the slot's consistent point, and the slot streams exactly those after it, so
   * snapshot and stream meet without a gap or an overlap. (An LSN fence — read, then skip streamed changes up
   * to the LSN seen while reading — would need the table read to be atomic with a WAL position, which only the
   * exported snapshot gives.) Returns the consistent point.
   */
  async createSlot(readSnapshot?: (reader: pg.Client, at: Lsn) => Promise<void>): Promise<Lsn> {
    if (!readSnapshot) {
      return this.withClient(async (c) => {
        const r = await c.query("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [this.slot]);
        return parseLsn(r.rows[0].lsn);
      });
    }
    return this.withClient(async (repl) => {
      const r = await repl.query(`CREATE_REPLICATION_SLOT "${this.slot}" LOGICAL pgoutput EXPORT_SNAPSHOT`);
      const at = parseLsn(r.rows[0].consistent_point);
      const snapshot: string = r.rows[0].snapshot_name;
      // The exported snapshot lives until the replication connection runs its next command: read it all now.
      await this.withClient(async (reader) => {
        await reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        await reader.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "")}'`);
        await readSnapshot(reader, at);
        await reader.query("COMMIT");
      });
      return at;
    }, true);
  }

  /** Starts streaming from the slot's confirmed LSN (PostgreSQL never goes back before it). */
  async stream(handlers: StreamHandlers): Promise<ReplicationStream> {
    const service = new LogicalReplicationService(
      { connectionString: this.config.url, connectionTimeoutMillis: this.config.connect_timeout },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    let confirmed = 0n;
    // pg-logical-replication's acknowledge(x) reports x + 1; PostgreSQL's own clients report the commit's end.
    const report = () => {
      if (confirmed > 0n) void service.acknowledge(formatLsn(confirmed - 1n)).catch(() => undefined);
    };
    service.on("data", (_lsn: string, m: Pgoutput.Message) => handlers.message(m));
    service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
      handlers.keepalive(parseLsn(lsn));
      if (shouldRespond) report();
    });
    let fail: (e: unknown) => void = () => undefined;
    const failed = new Promise<void>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    service.on("error", (e: Error) => fail(e));
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.publication] });
    const started = new Promise<void>((resolve) => service.once("start", () => resolve()));
    const running = service.subscribe(plugin, this.slot, "0/0");
    await Promise.race([started, running.then(() => Promise.reject(new Error("replication ended before it started"))), failed]);
    const timer = setInterval(report, this.config.status_interval);
    const socket = (service as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
    const gate = socket ? new ReadGate(socket) : undefined;
    const ended = Promise.race([running.then(() => undefined), failed]).finally(() => clearInterval(timer));
    return {
      ended,
      acknowledge(lsn) {
        if (lsn <= confirmed) return;
        confirmed = lsn;
        report();
      },
      pause: () => gate?.pause(),
      resume: () => gate?.resume(),
      stop: async () => {
        clearInterval(timer);
        await service.destroy().catch(() => undefined);
      },
    };
  }

  health(): HealthReport {
    return { status: "healthy", details: { slot: this.slot, publication: this.publication } };
  }

  async close(): Promise<void> {}
}

/** Bytes handed to the protocol parser at a time: what may still be decoded after a pause. */
export const READ_SLICE_BYTES = 16 * 1024;

/**
 * Lets the protocol parser see the replication socket's data in slices of READ_SLICE_BYTES and none while
 * paused. Pausing the socket alone stops further reads, but the parser would still decode all of the read in
 * hand (Bun reads up to 512 KiB at once: some 10,000 small row changes); the rest of it waits here instead.
 * pg's parser keeps a message cut between slices until the next one.
 */
class ReadGate {
  private readonly held: Buffer[] = [];
  private paused = false;
  private readonly deliver: ((chunk: Buffer) => void)[];

  constructor(private readonly socket: Socket) {
    this.deliver = socket.listeners("data") as ((chunk: Buffer) => void)[];
    socket.removeAllListeners("data");
    socket.on("data", (chunk: Buffer) => {
      this.held.push(chunk);
      this.pump();
    });
  }

  private pump(): void {
    while (!this.paused && this.held.length > 0) {
      const chunk = this.held[0]!;
      const slice = chunk.length > READ_SLICE_BYTES ? chunk.subarray(0, READ_SLICE_BYTES) : chunk;
      if (slice === chunk) this.held.shift();
      else this.held[0] = chunk.subarray(READ_SLICE_BYTES);
      for (const fn of this.deliver) fn.call(this.socket, slice);
    }
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
    this.pump();
  }
}

/** The primary key columns of a table, in key order. */
export async function primaryKey(c: pg.Client, table: string): Promise<string[]> {
  const r = await c.query(
    `SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
       JOIN pg_attribute a ON a.attnum = k.attnum
      WHERE i.indrelid = $1::regclass AND i.indisprimary AND a.attrelid = i.indrelid ORDER BY k.n`,
    [table],
  );
  return r.rows.map((row: { attname: string }) => row.attname);
}

function quoteQualified(name: string): string {
  return name
    .split(".")
    .map((p) => `"${p}"`)
    .join(".");
}

/** `slots: {source: {driver: postgres_logical, config: {url, slot, publication}}}`. */
export const postgresLogicalDriver: DriverFactory<PostgresLogicalSource> = {
  name: "postgres_logical",
  interfaces: [],
  create(config, env) {
    const cfg = validate<SourceConfig>(config, schema, { file: env.configFile, lineOf: env.lineOf });
    for (const key of ["slot", "publication"] as const) {
      if (cfg[key] && !NAME.test(cfg[key])) {
        throw new ConfigError(env.configFile, key, env.lineOf?.([key]), `"${cfg[key]}" must be lower-case letters, digits and _ (at most 63)`);
      }
    }
    return new PostgresLogicalSource(cfg);
  },
};
