/**
 * A pattern served directly (its TCP port) bounds what one client connection may hold, as the proxy does (issue
 * 18 item 10): concurrent calls past PRISM_MAX_STREAMS_PER_CONNECTION (default 2,048, announced in SETTINGS) are
 * refused with REFUSED_STREAM, and a request body that stops arriving is reset after
 * PRISM_REQUEST_BODY_TIMEOUT_MS (default 30 s). Before, one connection held ~9,900 streams and stalled bodies forever.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FRAME } from "../../h2/codec/frames";
import { startPattern, type StartedPattern } from "../helpers/process";
import { grpcRequest, RawH2 } from "./raw_h2";

const GET = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
const REFUSED_STREAM = 7;
const CANCEL = 8;

const rstCode = (f: { payload: Buffer }) => f.payload.readUInt32BE(0);

describe("a standalone pattern's client listener", () => {
  let bounded: StartedPattern;
  let defaults: StartedPattern;
  beforeAll(async () => {
    [bounded, defaults] = await Promise.all([
      startPattern("memstore", [], { PRISM_MAX_STREAMS_PER_CONNECTION: "5", PRISM_REQUEST_BODY_TIMEOUT_MS: "1000" }),
      startPattern("memstore"),
    ]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([bounded?.stop(), defaults?.stop()]);
  });

  test("announces 2,048 concurrent streams by default", async () => {
    const c = await RawH2.connect(defaults.address);
    try {
      const announced = () =>
        c.frames.some(
          (f) =>
            f.type === FRAME.SETTINGS &&
            f.flags === 0 &&
            [...Array(f.payload.length / 6).keys()].some((i) => f.payload.readUInt16BE(i * 6) === 3 && f.payload.readUInt32BE(i * 6 + 2) === 2_048),
        );
      await c.waitFor(announced);
      expect(announced()).toBe(true);
    } finally {
      c.destroy();
    }
  });

  test("calls past the bound are refused; stalled request bodies are reset", async () => {
    const c = await RawH2.connect(bounded.address);
    try {
      // Eight calls whose request bodies never come: three past the bound of five.
      for (let i = 0; i < 8; i++) c.headers(1 + 2 * i, grpcRequest(GET), false);
      const resets = () => c.frames.filter((f) => f.type === FRAME.RST_STREAM);
      await c.waitFor(() => resets().length >= 8, 10_000);
      const codes = resets().map(rstCode);
      expect(codes.filter((x) => x === REFUSED_STREAM).length).toBe(3);
      expect(codes.filter((x) => x === CANCEL).length).toBe(5);
      // Closed calls give their places back: six more on the same connection, one past the bound again.
      for (let i = 8; i < 14; i++) c.headers(1 + 2 * i, grpcRequest(GET), false);
      await c.waitFor(() => resets().length >= 14, 10_000);
      const again = resets().slice(8).map(rstCode);
      expect([again.filter((x) => x === REFUSED_STREAM).length, again.filter((x) => x === CANCEL).length]).toEqual([1, 5]);
    } finally {
      c.destroy();
    }
  }, 20_000);
});
