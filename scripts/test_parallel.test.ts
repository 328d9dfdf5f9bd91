import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { perFolder } from "./coverage_floor";
import { failureDigest, failureExcerpt, LAYOUT_UNIT, mergeLcov, ROOT, runPool, testCodeBytes, testFiles, unitOf, units } from "./test_parallel";

const tmp = mkdtempSync(join(tmpdir(), "prism-test-parallel-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("test files", () => {
  test("the files bun test would pick up, not those under node_modules, dist, coverage or hidden folders", () => {
    const files = [
      "a/x.test.ts",
      "b/y_test.ts",
      "c/z.spec.js",
      "tests/k/w.test.ts",
      "a/helper.ts",
      "node_modules/p/q.test.ts",
      "dist/r.test.ts",
      ".build/s.test.ts",
      "coverage/t.test.ts",
    ];
    for (const f of files) {
      mkdirSync(dirname(join(tmp, f)), { recursive: true });
      writeFileSync(join(tmp, f), "");
    }
    expect(testFiles(tmp)).toEqual(["a/x.test.ts", "b/y_test.ts", "c/z.spec.js", "tests/k/w.test.ts"]);
  });

  test("every file of the repository's run lands in exactly one unit", () => {
    const files = testFiles();
    expect(files.length).toBeGreaterThan(100);
    const all = units(
      files,
      (f) => readFileSync(join(ROOT, f), "utf8"),
      (f) => statSync(join(ROOT, f)).size,
    );
    expect(all.flatMap((u) => u.files).sort()).toEqual(files);
  });
});

describe("units", () => {
  test("a black-box suite alone; the faults suite, the Kafka suites and a source folder's unit tests each together", () => {
    expect(unitOf("tests/redis/scan.test.ts", "")).toBe("tests/redis/scan.test.ts");
    expect(unitOf("tests/faults/backends.test.ts", 'import { startKafkaBroker } from "../kafka/broker";')).toBe("tests/faults");
    expect(unitOf("tests/acceptance/pubsub_kafka.test.ts", 'import { kafkaTarget } from "../kafka/target";')).toBe("tests/kafka");
    expect(unitOf("tests/queue/kafka.test.ts", 'import { kafka } from "./kafka_backend";')).toBe("tests/kafka");
    expect(unitOf("tests/nats/driver.test.ts", 'import { rssOf } from "../kafka/proc_stats";')).toBe("tests/nats/driver.test.ts");
    expect(unitOf("sdk/grpc/errors.test.ts", "")).toBe("sdk");
    expect(unitOf("proxy/config.test.ts", "")).toBe("proxy");
  });

  test("tests that list the patterns run with the test that adds a pattern folder for a while", () => {
    expect(unitOf("proxy/pattern_examples.test.ts", 'import { patternManifests } from "../scripts/executables";')).toBe(LAYOUT_UNIT);
    expect(unitOf("scripts/executables.test.ts", 'import { executables } from "./executables";')).toBe(LAYOUT_UNIT);
    expect(unitOf("scripts/other.test.ts", "")).toBe(LAYOUT_UNIT);
    // In the repository itself: the template test and every test that reads the list share one unit.
    const all = units(
      testFiles(),
      (f) => readFileSync(join(ROOT, f), "utf8"),
      (f) => statSync(join(ROOT, f)).size,
    );
    const layout = all.find((u) => u.name === LAYOUT_UNIT)!.files;
    expect(layout).toContain("tests/packaging/template.test.ts");
    const readers = testFiles().filter((f) => /scripts\/executables/.test(readFileSync(join(ROOT, f), "utf8")));
    expect(readers.length).toBeGreaterThan(3);
    for (const f of readers) expect(layout).toContain(f);
  });

  test("untimed units first, largest first; then the recorded times, longest first", () => {
    const size: Record<string, number> = { "tests/a/1.test.ts": 10, "tests/b/1.test.ts": 30, "c/1.test.ts": 5, "d/1.test.ts": 1 };
    const order = units(
      Object.keys(size),
      () => "",
      (f) => size[f]!,
      { "tests/a/1.test.ts": 5, d: 60 },
    ).map((u) => u.name);
    expect(order).toEqual(["tests/b/1.test.ts", "c", "d", "tests/a/1.test.ts"]);
  });

  test("a suite's cost counts the test-only modules it imports, not the product code", () => {
    const files: Record<string, string> = {
      "tests/acceptance/redis.test.ts": 'import { run } from "./keyvalue.suite";\nimport { x } from "../../sdk/index";',
      "tests/acceptance/keyvalue.suite.ts": 'import { t } from "./target";\nimport { run } from "./keyvalue.suite";',
      "tests/acceptance/target.ts": "",
      "sdk/index.ts": "",
    };
    const sizes: Record<string, number> = {
      "tests/acceptance/redis.test.ts": 1,
      "tests/acceptance/keyvalue.suite.ts": 100,
      "tests/acceptance/target.ts": 10,
      "sdk/index.ts": 1000,
    };
    const read = (f: string) => {
      if (!(f in files)) throw new Error(`no ${f}`);
      return files[f]!;
    };
    expect(testCodeBytes("tests/acceptance/redis.test.ts", read, (f) => sizes[f]!)).toBe(111);
  });
});

describe("mergeLcov", () => {
  const report = (sf: string, da: [number, number][], fnf = 1, fnh = 1) =>
    [
      "TN:",
      `SF:${sf}`,
      `FNF:${fnf}`,
      `FNH:${fnh}`,
      ...da.map(([l, h]) => `DA:${l},${h}`),
      `LF:${da.length}`,
      `LH:${da.filter(([, h]) => h > 0).length}`,
      "end_of_record",
    ].join("\n");

  test("a file loaded by two units counts a line hit when either hit it, and its lines once", () => {
    const a = report(`${ROOT}/sdk/x.ts`, [
      [1, 1],
      [2, 0],
      [3, 0],
    ]);
    const b = `${report(`${ROOT}/sdk/x.ts`, [
      [1, 2],
      [2, 4],
      [3, 0],
    ])}\n${report(`${ROOT}/proxy/y.ts`, [[7, 0]], 2, 0)}\n`;
    const merged = mergeLcov([a, b]);
    expect(merged).toContain(`SF:${ROOT}/sdk/x.ts\nFNF:1\nFNH:1\nDA:1,3\nDA:2,4\nDA:3,0\nLF:3\nLH:2\nend_of_record`);
    expect(merged).toContain(`SF:${ROOT}/proxy/y.ts\nFNF:2\nFNH:0\nDA:7,0\nLF:1\nLH:0\nend_of_record`);
    // The floor check reads the merged report as it read bun's own.
    const folders = perFolder(merged, ["sdk", "proxy"]);
    expect(folders.get("sdk")).toEqual({ found: 3, hit: 2 });
    expect(folders.get("proxy")).toEqual({ found: 1, hit: 0 });
  });

  test("nothing to merge is an empty report", () => {
    expect(mergeLcov([])).toBe("");
  });
});

describe("runPool", () => {
  test("runs every item, at most `jobs` at a time, results in item order", async () => {
    let running = 0;
    let most = 0;
    const results = await runPool([30, 10, 20, 5, 1], 2, async (ms, i) => {
      most = Math.max(most, ++running);
      await Bun.sleep(ms);
      running--;
      return `${i}:${ms}`;
    });
    expect(results).toEqual(["0:30", "1:10", "2:20", "3:5", "4:1"]);
    expect(most).toBe(2);
  });
});

describe("failure excerpt", () => {
  test("each (fail) line with the error lines before it, not the passing tests far above", () => {
    const output = [
      ...Array.from({ length: 40 }, (_, i) => `(pass) ok ${i}`),
      "error: expect(received).toBe(expected)",
      "Expected: 1",
      "Received: 2",
      "(fail) kafka > redelivers [12.00ms]",
      "(pass) later",
      " 41 pass",
      " 1 fail",
    ].join("\n");
    const excerpt = failureExcerpt(output, 3);
    expect(excerpt.split("\n")).toEqual(["error: expect(received).toBe(expected)", "Expected: 1", "Received: 2", "(fail) kafka > redelivers [12.00ms]"]);
  });

  test("a unit that crashed without a (fail) line: its last lines", () => {
    const output = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const excerpt = failureExcerpt(output).split("\n");
    expect(excerpt.length).toBe(40);
    expect(excerpt.at(-1)).toBe("line 99");
  });
});

describe("failure digest", () => {
  test("one line per failed test: its name, the error, Expected and Received", () => {
    const output = [
      "(pass) first",
      "error: expect(received).toBe(expected)",
      "",
      "Expected: 5653",
      "Received: 5503",
      "      at <anonymous> (/x.test.ts:139:35)",
      "(fail) cdc > sink down: nothing twice [4730.38ms]",
      "(pass) between",
      "error: waiting until the marker arrived: timed out after 30000 ms",
      "(fail) cdc > marker [30001.00ms]",
      " 2 pass",
      " 2 fail",
      "(fail) cdc > sink down: nothing twice [4730.38ms]",
      "(fail) cdc > marker [30001.00ms]",
    ].join("\n");
    expect(failureDigest(output)).toEqual([
      "  ✗ cdc > sink down: nothing twice [4730.38ms] — error: expect(received).toBe(expected) · Expected: 5653 · Received: 5503",
      "  ✗ cdc > marker [30001.00ms] — error: waiting until the marker arrived: timed out after 30000 ms",
    ]);
  });

  test("a unit that ended without a (fail) line: its last line", () => {
    expect(failureDigest("(pass) a\nSegmentation fault\n")).toEqual(["  ✗ no (fail) line; the unit's last line: Segmentation fault"]);
  });
});
