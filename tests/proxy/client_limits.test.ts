/**
 * Limits per client at the proxy's listener (issue 18 item 5): one source address holding many idle connections
 * is refused past max_connections_per_client and counted, while another address is still served; an idle
 * connection closed for idleness is counted once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { FLAG, FRAME, frame } from "../../h2/codec/frames";
import { eventually, startProxy, type StartedProxy } from "./harness";
import { grpcRequest, RawH2 } from "./raw_h2";

const rejected = async (p: StartedProxy, reason: string) => {
  const m = (await p.metrics()).match(new RegExp(`^prism_proxy_rejected_total\\{reason="${reason}"\\} (\\d+)`, "m"));
  return m ? Number(m[1]) : 0;
};

function hostPort(address: string): [string, number] {
  return [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
}

describe("per-client connection limits", () => {
  let proxy: StartedProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      JSON.stringify({
        limits: { max_connections: 100, max_connections_per_client: 10, idle_timeout: "1s" },
        namespaces: [{ name: "default", pattern: "memstore" }],
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
  });

  test("one address holding idle connections is refused past its share; another address is served meanwhile", async () => {
    const [host, port] = hostPort(proxy.address);
    const hog: net.Socket[] = [];
    for (let i = 0; i < 30; i++) {
      const s = net.connect({ port, host, localAddress: "127.0.0.1" });
      s.on("error", () => undefined);
      hog.push(s);
    }
    try {
      await eventually(async () => (await rejected(proxy, "max_connections_per_client")) >= 20, "20 of 30 connections from 127.0.0.1 are refused");
      expect(await rejected(proxy, "max_connections")).toBe(0);
      // A client on another address (127.0.0.2: all of 127/8 is loopback) gets a call through meanwhile.
      const other = await RawH2.connect(proxy.address, [], "127.0.0.2");
      try {
        other.headers(1, grpcRequest("/grpc.health.v1.Health/Check"), false);
        other.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, new Uint8Array(5))); // one empty HealthCheckRequest
        const reply = await other.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
        expect(reply).toBeDefined();
      } finally {
        other.destroy();
      }
    } finally {
      for (const s of hog) s.destroy();
    }
  }, 30_000);

  test("a connection closed for idleness is counted once", async () => {
    const before = await rejected(proxy, "idle_timeout");
    // An HTTP/2 connection that opens no call: the connection's and the session's idle timers both expire.
    const idle = await RawH2.connect(proxy.address, [], "127.0.0.3");
    expect(await idle.waitClosed(10_000)).toBe(true);
    await eventually(async () => (await rejected(proxy, "idle_timeout")) > before, "the idle close is counted", 10_000);
    // Absence of a second count: both timers were armed at connect; give the later one a whole idle_timeout more.
    await Bun.sleep(1_000);
    expect((await rejected(proxy, "idle_timeout")) - before).toBe(1);
  }, 30_000);
});
