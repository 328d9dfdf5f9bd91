/**
 * The cdc module against a scripted CdcPattern server: a subscription broken in the middle of a transaction is
 * opened again from the last event's LSN, and the events of that transaction already yielded are not repeated.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CapabilitiesSchema, CdcPattern } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { serviceDefinition } from "../../sdk/grpc/definition";
import { connect } from "./index";

const server = new grpc.Server();
let address = "";
const requests: string[] = [];
/** The sink: three transactions, the second of three changes. */
const SINK = [
  { lsn: "0/10", position: 1n },
  { lsn: "0/20", position: 1n },
  { lsn: "0/20", position: 2n },
  { lsn: "0/20", position: 3n },
  { lsn: "0/30", position: 1n },
];

beforeAll(async () => {
  server.addService(serviceDefinition(CdcPattern), {
    getCapabilities: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, create(CapabilitiesSchema, { stream: "changes" })),
    subscribe: (call: grpc.ServerWritableStream<{ fromLsn: string }, unknown>) => {
      const from = call.request.fromLsn;
      requests.push(from);
      const events = SINK.filter((e) => from === "" || e.lsn >= from);
      // The first stream breaks after the second change of transaction 0/20.
      if (requests.length === 1) {
        for (const e of events.slice(0, 3)) call.write(e);
        setTimeout(() => call.emit("error", { code: grpc.status.UNAVAILABLE, details: "proxy connection lost" }), 20);
        return;
      }
      for (const e of events) call.write(e);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => server.forceShutdown());

test("a broken subscription resumes from the last event's LSN without repeating its transaction's yielded events", async () => {
  const c = await connect({ address, retry: { attempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 }, onEvent: () => {} });
  const ac = new AbortController();
  try {
    const seen: string[] = [];
    for await (const e of c.cdc.subscribe({ signal: ac.signal })) {
      seen.push(`${e.lsn}/${e.position}`);
      if (seen.length === SINK.length) break;
    }
    expect(seen).toEqual(SINK.map((e) => `${e.lsn}/${e.position}`));
    expect(requests).toEqual(["", "0/20"]);
    expect(c.stats.resubscriptions).toBe(1);
  } finally {
    ac.abort();
    c.close();
  }
});
