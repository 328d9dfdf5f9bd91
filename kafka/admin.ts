import type { Admin, Kafka } from "kafkajs";
import { Code } from "@prism/sdk";
import { toPrismError } from "./errors";

/**
 * One kafkajs admin client, connected on first use and reconnected after a failure, so a broker that
 * was down when the pattern started (or went away later) is picked up again without a restart.
 */
export class AdminHandle {
  private admin: Admin | undefined;
  private connecting: Promise<Admin> | undefined;

  constructor(private readonly kafka: Kafka) {}

  /** Runs one admin request; failures become PrismErrors (UNAVAILABLE when the broker is unreachable). */
  async use<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    let admin: Admin;
    try {
      admin = await this.connected();
    } catch (err) {
      throw toPrismError(err, what);
    }
    try {
      return await fn(admin);
    } catch (err) {
      const e = toPrismError(err, what);
      if (e.code === Code.UNAVAILABLE) this.reset(admin);
      throw e;
    }
  }

  /**
   * Like `use`, but a step that fails UNAVAILABLE is tried again (every 50 ms, for up to `settleMs`): right after
   * a topic is created or a group's coordinator moves, brokers answer "not the leader", "does not host this
   * topic-partition" or "not the correct coordinator" for a moment, and kafkajs does not retry all of them.
   */
  useSettling<T>(what: string, settleMs: number, fn: (admin: Admin) => Promise<T>): Promise<T> {
    return this.use(what, (admin) => {
      const deadline = Date.now() + settleMs;
      return whileUnavailable(deadline, () => fn(admin));
    });
  }

  private connected(): Promise<Admin> {
    if (this.admin) return Promise.resolve(this.admin);
    this.connecting ??= (async () => {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
        this.admin = admin;
        return admin;
      } catch (err) {
        void admin.disconnect().catch(() => undefined);
        throw err;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private reset(admin: Admin): void {
    if (this.admin !== admin) return;
    this.admin = undefined;
    void admin.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}

/** Runs `step` until it succeeds, again every 50 ms while it fails UNAVAILABLE and `deadline` is ahead. */
export async function whileUnavailable<T>(deadline: number, step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (Date.now() > deadline || toPrismError(err, "").code !== Code.UNAVAILABLE) throw err;
      await Bun.sleep(50);
    }
  }
}
