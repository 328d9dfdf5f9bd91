import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DriverEnv, FilledSlots } from "@prism/sdk";
import { oneSlotPattern } from "../../docs/examples/one-slot/pattern";
import { MapStore } from "../../docs/examples/one-slot/store";
import { startProcess } from "../helpers/process";
import { clientsFor, text, utf8 } from "../proxy/harness";

// docs/writing-a-pattern.md shows docs/examples/one-slot whole: a pattern with one slot, written against
// @prism/sdk only. Here it runs: in process, and as a process serving gRPC with the slot filled by configuration.

const DIR = mkdtempSync(join(tmpdir(), "prism-one-slot-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

function start(config: string) {
  const file = join(DIR, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, config);
  return startProcess([process.execPath, "docs/examples/one-slot/main.ts", "--grpc-port", "0", "--config", file], {
    env: { PRISM_GRPC_HOST: "127.0.0.1" },
  });
}

describe("the one-slot example of the guide", () => {
  test("keeps every key under its prefix in the driver that fills the slot", async () => {
    const store = new MapStore();
    const slots: FilledSlots = new Map([["store", { slot: "store", driverName: "map", driver: store, interfaces: ["keyvalue_basic"] }]]);
    const env = { configFile: "inline", namespace: "" } as unknown as DriverEnv;
    const kv = await oneSlotPattern.create({ prefix: "app:" }, env, slots);
    await kv.set("k", utf8("v"), 0);
    expect(text(store.get("app:k") ?? new Uint8Array())).toBe("v");
    expect(await kv.exists("k")).toBe(true);
    expect(store.exists("k")).toBe(false);
  });

  test("serves KeyValueBasicInterface with the slot filled by configuration", async () => {
    const p = start('prefix: "app:"\nslots:\n  store: { driver: map }\n');
    try {
      const address = (await p.waitFor(/grpc listening on (\S+)/, 20_000))[1]!;
      const c = clientsFor(address);
      try {
        expect((await c.kv.set({ key: "hello", value: utf8("slot") }, c.opts())).success).toBe(true);
        const got = await c.kv.get({ key: "hello" }, c.opts());
        expect(got.found).toBe(true);
        expect(text(got.value)).toBe("slot");
      } finally {
        c.close();
      }
      expect(await p.stop()).toBe(0);
    } finally {
      await p.stop();
    }
  }, 30_000);

  test("refuses at start-up a slot filled with a driver it was not built with", async () => {
    const p = start("slots:\n  store: { driver: redis }\n");
    try {
      await p.waitFor(/redis\\" is not built into pattern one-slot \(drivers: map\)/, 20_000);
      expect(await p.exited).not.toBe(0);
    } finally {
      await p.stop();
    }
  }, 30_000);
});
