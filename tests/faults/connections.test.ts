/**
 * Bounded connections at the proxy: over max_connections a connection is closed at once and counted; idle
 * connections (never a call, or no call for idle_timeout) are closed, so a flood of idle connections cannot
 * keep real clients out for long; a call whose request body stalls is reset after request_body_timeout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import net from "node:net";
import { waitFor } from "../helpers/wait";
import { clientsFor, startProxy, type StartedProxy } from "../proxy/harness";

const metric = async (p: StartedProxy, reason: string) => {
  const m = (await p.metrics()).match(new RegExp(`^prism_proxy_rejected_total\\{reason="${reason}"\\} (\\d+)`, "m"));
  return m ? Number(m[1]) : 0;
};

describe("proxy connection limits", () => {
  let proxy: StartedProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      JSON.stringify({
        limits: { max_connections: 40, idle_timeout: "1s", request_body_timeout: "1s", max_streams_per_connection: 1000 },
        namespaces: [{ name: "default", pattern: "memstore" }],
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
  });

  test("a flood of idle TCP connections: the excess is refused and counted, the rest closed when idle, real clients served after", async () => {
    const [host, port] = [proxy.address.slice(0, proxy.address.lastIndexOf(":")), Number(proxy.address.slice(proxy.address.lastIndexOf(":") + 1))];
    const sockets: net.Socket[] = [];
    let closedByServer = 0;
    for (let i = 0; i < 120; i++) {
      const s = net.connect(port, host);
      s.on("error", () => undefined);
      s.on("close", () => closedByServer++);
      sockets.push(s);
    }
    // 120 at once against a limit of 40: at least 80 refused.
    await waitFor(async () => (await metric(proxy, "max_connections")) >= 80, "at least 80 connections were refused over max_connections", {
      timeoutMs: 10_000,
    });
    // Idle ones are closed after idle_timeout (1 s here).
    const deadline = Date.now() + 10_000;
    while (closedByServer < 120 && Date.now() < deadline) await Bun.sleep(100);
    expect(closedByServer).toBe(120);
    expect(await metric(proxy, "idle_timeout")).toBeGreaterThanOrEqual(1);
    const c = clientsFor(proxy.address, "default");
    try {
      expect((await c.kv.set({ key: "k", value: new Uint8Array([1]) }, c.opts())).success).toBe(true);
    } finally {
      c.close();
    }
  }, 30_000);

  test("a request body that stops arriving is reset after request_body_timeout", async () => {
    const before = await metric(proxy, "request_body_timeout");
    const t0 = Date.now(); // before the request: the timeout cannot have started earlier
    const session = http2.connect(`http://${proxy.address}`);
    session.on("error", () => undefined);
    const req = session.request({
      ":method": "POST",
      ":path": "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get",
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("error", () => undefined);
    req.on("response", () => undefined);
    req.write(Buffer.from([0, 0, 0, 0, 10, 0x0a])); // a frame promising 10 bytes, then nothing
    await new Promise<void>((r) => req.on("close", () => r()));
    // Closed by the 1 s request_body_timeout, not for some other reason: not before it, and counted once.
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(8_000);
    expect(await metric(proxy, "request_body_timeout")).toBe(before + 1);
    session.destroy();
  }, 30_000);
});
