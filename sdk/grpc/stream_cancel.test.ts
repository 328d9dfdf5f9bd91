import { afterAll, beforeAll, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { waitFor } from "../../tests/helpers/wait";
import { createClient } from "./client";
import { addService } from "./server";
import { bindServer, serverOptions } from "./server_factory";

// A response stream whose client stops reading, then goes away: the handler's generator, blocked in its `yield`
// while the call waits for flow control, must be returned — not resumed, which would tell it (a durable
// subscription, say) that the message it yielded was handed over.
const server = new grpc.Server(serverOptions);
const big = new Uint8Array(256 * 1024);
let yielded = 0;
let resumedAfterCancel = 0;
let returned = false;
let address = "";

beforeAll(async () => {
  addService(server, KeyValueScanInterface, {
    async *scan(_req, ctx) {
      try {
        for (let i = 0; ; i++) {
          yielded++;
          yield { key: `k${i}`, value: big };
          if (ctx.signal.aborted) resumedAfterCancel++;
        }
      } finally {
        returned = true;
      }
    },
    // biome-ignore lint/correctness/useYield: not part of this test
    async *scanKeys() {
      throw new Error("not used");
    },
    count: () => ({ count: 0n }),
  });
  address = `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
});

afterAll(() => server.forceShutdown());

test("a stream cancelled while it waits for the client to read never resumes its generator", async () => {
  const { client, close } = createClient(KeyValueScanInterface, address);
  const ac = new AbortController();
  const it = client.scan({ prefix: "" }, { signal: ac.signal, timeoutMs: 0 })[Symbol.asyncIterator]();
  await it.next();
  // The client reads nothing more: flow control stops the server once windows and buffers are full.
  let last = -1;
  await waitFor(
    async () => {
      const settled = yielded === last && yielded > 1;
      last = yielded;
      return settled;
    },
    "the server stops writing",
    { intervalMs: 300, timeoutMs: 15_000 },
  );
  ac.abort();
  await it.next().catch(() => undefined);
  await waitFor(() => returned, "the generator is returned");
  expect(resumedAfterCancel).toBe(0);
  close();
});
