import { describe, expect, test } from "bun:test";
import net from "node:net";
import { freePort, onFreePort, startOnFreePort } from "./ports";

describe("onFreePort", () => {
  test("a port taken between the pick and the bind is tried again with another; other errors are not", async () => {
    const taken: number[] = [];
    const port = await onFreePort(async (p) => {
      if (taken.length < 2) {
        taken.push(p);
        throw new Error(`Failed to start server. Is port ${p} in use?`);
      }
      return p;
    });
    expect(taken.length).toBe(2);
    expect(port).toBeGreaterThan(0);
    let calls = 0;
    await expect(
      onFreePort(async () => {
        calls++;
        throw new Error("config is wrong");
      }),
    ).rejects.toThrow("config is wrong");
    expect(calls).toBe(1);
    await expect(onFreePort(async (p) => Promise.reject(new Error(`listen EADDRINUSE 127.0.0.1:${p}`)), 3)).rejects.toThrow("EADDRINUSE");
  });

  test("startOnFreePort discards a server that could not start before it tries another port", async () => {
    const discarded: number[] = [];
    let starts = 0;
    const server = await startOnFreePort(
      (port) => ({ port }),
      async (s) => {
        if (++starts === 1) throw new Error(`listen tcp 127.0.0.1:${s.port}: bind: address already in use`);
      },
      async (s) => {
        discarded.push(s.port);
      },
    );
    expect(starts).toBe(2);
    expect(discarded.length).toBe(1);
    expect(server.port).toBeGreaterThan(0);
  });

  test("freePort gives a port that can be bound", async () => {
    const port = await freePort();
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", resolve);
    });
    srv.close();
  });
});
