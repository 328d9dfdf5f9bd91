import { describe, expect, test } from "bun:test";
import { parseFlags, UsageError } from "./flags";

describe("parseFlags", () => {
  test("defaults: proxy on :8980, get, closed loop, 10 s", () => {
    const o = parseFlags([])!;
    expect(o).toMatchObject({
      target: "127.0.0.1:8980",
      via: "proxy",
      operation: "get",
      concurrency: 16,
      durationMs: 10_000,
      rps: 0,
      requests: 0,
      warmupMs: 1000,
      valueSize: 100,
      keys: 1000,
    });
    expect(o.namespace).toBeUndefined();
  });

  test("seed 002 flags and the extra ones", () => {
    const o = parseFlags([
      "--direct",
      "127.0.0.1:50051",
      "--operation",
      "mixed",
      "--concurrency",
      "64",
      "--duration",
      "500ms",
      "--rps",
      "2000",
      "--namespace",
      "orders",
      "--value-size",
      "1KiB",
      "--keys",
      "10",
      "--warmup",
      "0s",
      "--json",
      "out.json",
      "--timeout",
      "250ms",
    ])!;
    expect(o).toMatchObject({
      target: "127.0.0.1:50051",
      via: "direct",
      operation: "mixed",
      concurrency: 64,
      durationMs: 500,
      rps: 2000,
      namespace: "orders",
      valueSize: 1024,
      keys: 10,
      warmupMs: 0,
      jsonFile: "out.json",
      timeoutMs: 250,
    });
  });

  test("--service picks Set/Get (interface, the default) or KeyValuePattern Store/Retrieve (pattern)", () => {
    expect(parseFlags([])!.service).toBe("interface");
    expect(parseFlags(["--service", "pattern"])!.service).toBe("pattern");
    expect(() => parseFlags(["--service", "both"])).toThrow(UsageError);
  });

  test("--requests alone is not also bounded by the default duration", () => {
    expect(parseFlags(["--requests", "500"])).toMatchObject({ requests: 500, durationMs: 0 });
    expect(parseFlags(["--requests", "500", "--duration", "2s"])).toMatchObject({ requests: 500, durationMs: 2000 });
  });

  test("--help returns nothing to run", () => {
    expect(parseFlags(["-h"])).toBeUndefined();
  });

  test("--direct takes a Unix socket (unix:/PATH), as the proxy's launched patterns serve", () => {
    expect(parseFlags(["--direct", "unix:/tmp/prism/p1.sock"])?.target).toBe("unix:/tmp/prism/p1.sock");
  });

  test.each([
    [["--operation", "frob"], /--operation must be one of/],
    [["--concurrency", "0"], /--concurrency must be an integer >= 1/],
    [["--rps", "1.5"], /--rps must be an integer/],
    [["--duration", "soon"], /--duration must be a duration/],
    [["--proxy", "nohost"], /--proxy must be HOST:PORT/],
    [["--proxy", "unix:/tmp/p.sock"], /--proxy must be HOST:PORT/],
    [["--proxy", "a:1", "--direct", "b:2"], /exclusive/],
    [["--duration", "0s"], /needs a bound/],
    [["--value-size", "0"], /--value-size/],
    [["--nope"], /Unknown option/],
  ])("rejects %p", (argv, message) => {
    expect(() => parseFlags(argv as string[])).toThrow(UsageError);
    expect(() => parseFlags(argv as string[])).toThrow(message as RegExp);
  });
});
