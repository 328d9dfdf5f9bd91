/**
 * The PostgreSQL that `make services` starts acknowledges a commit only once its WAL is flushed: with
 * synchronous_commit=off a kill -9 lost 9 of 3,971 acknowledged writes (issue 18). scripts/services/postgres.sh
 * starts it with synchronous_commit=on and fsync=on, and restarts a server still running without them.
 */
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { postgresUrl, requireService } from "../helpers/services";

describe("the services' PostgreSQL is durable", () => {
  test("synchronous_commit and fsync are on", async () => {
    await requireService("postgres");
    const sql = new SQL({ url: postgresUrl(), max: 1 });
    try {
      const [row] = await sql`select current_setting('synchronous_commit') as sync, current_setting('fsync') as fsync`;
      expect({ sync: row.sync, fsync: row.fsync }).toEqual({ sync: "on", fsync: "on" });
    } finally {
      await sql.close();
    }
  });
});
