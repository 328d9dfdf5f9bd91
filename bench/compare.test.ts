import { describe, expect, test } from "bun:test";
import { ROOT } from "../tests/helpers/process";
import { executableEntries, makefileBinaries } from "./base_build";
import { compareMarkdown, formatValue, median, sidesInRound, summarise, type RoundPair } from "./compare_summary";

const opsPerS = { name: "ops/s", higherIsBetter: true };
const cpu = { name: "CPU µs/call, proxy", higherIsBetter: false };

describe("bench-compare rounds", () => {
  test("the order of base and head alternates round by round", () => {
    expect([0, 1, 2, 3].map(sidesInRound)).toEqual([
      ["base", "head"],
      ["head", "base"],
      ["base", "head"],
      ["head", "base"],
    ]);
  });

  test("ratios are taken within each round, then summarised as median and min–max", () => {
    // Base and head drift together (a busier machine in round 2): the per-round ratio stays at 1.1.
    const pairs: RoundPair[] = [
      { round: 0, base: { "ops/s": 1000 }, head: { "ops/s": 1100 } },
      { round: 1, base: { "ops/s": 500 }, head: { "ops/s": 550 } },
      { round: 2, base: { "ops/s": 1000 }, head: { "ops/s": 1200 } },
    ];
    const s = summarise(opsPerS, pairs)!;
    expect(s.ratios.map((r) => Number(r.toFixed(3)))).toEqual([1.1, 1.1, 1.2]);
    expect(s.ratioMedian).toBeCloseTo(1.1, 9);
    expect(s.ratioMin).toBeCloseTo(1.1, 9);
    expect(s.ratioMax).toBeCloseTo(1.2, 9);
    expect(s.baseMedian).toBe(1000);
    expect(s.headMedian).toBe(1100);
    expect(s.everyRound).toBe("better");
  });

  test("'every round' follows the figure's direction and is absent when the rounds straddle 1", () => {
    const rounds = (head: number[]): RoundPair[] => head.map((h, round) => ({ round, base: { [cpu.name]: 50 }, head: { [cpu.name]: h } }));
    expect(summarise(cpu, rounds([55, 60, 52]))!.everyRound).toBe("worse");
    expect(summarise(cpu, rounds([45, 40, 49]))!.everyRound).toBe("better");
    expect(summarise(cpu, rounds([45, 55, 50]))!.everyRound).toBeUndefined();
  });

  test("a round where one side did not measure the figure is left out of its ratios", () => {
    const pairs: RoundPair[] = [
      { round: 0, base: { [cpu.name]: 40 }, head: { [cpu.name]: 44 } },
      { round: 1, base: {}, head: { [cpu.name]: 1 } },
      { round: 2, base: { [cpu.name]: 40 }, head: { [cpu.name]: Number.NaN } },
    ];
    expect(summarise(cpu, pairs)!.ratios).toEqual([1.1]);
    expect(summarise(opsPerS, pairs)).toBeUndefined();
  });

  test("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  test("the table has a line per row and figure, and says why a row has none", () => {
    const pairs: RoundPair[] = [0, 1, 2].map((round) => ({ round, base: { "ops/s": 15_000 }, head: { "ops/s": 14_000 } }));
    const md = compareMarkdown([
      { id: "memstore-proxy", label: "memstore pattern, through proxy", figures: [summarise(opsPerS, pairs)!], notes: ["round 2 head: UNAVAILABLE 3"] },
      { id: "redis-proxy", label: "redis pattern, through proxy", figures: [], notes: ["round 1 base failed: connect refused"] },
    ]);
    expect(md).toContain("| memstore pattern, through proxy | ops/s | 15,000 | 14,000 | **0.933** | 0.933–0.933 | 0.93, 0.93, 0.93 | worse |");
    expect(md).toContain("| redis pattern, through proxy | – | – | – | – | – | – | round 1 base failed: connect refused |");
    expect(md).toContain("- memstore pattern, through proxy: round 2 head: UNAVAILABLE 3");
  });

  test("values keep three significant digits", () => {
    expect([14_764.2, 239.4, 53.27, 4.521, 0.2341].map(formatValue)).toEqual(["14,764", "239", "53.3", "4.52", "0.234"]);
  });
});

describe("the base's executables before the pattern manifests", () => {
  test("name=entry pairs of the Makefile's BINARIES, continued over lines", () => {
    const makefile = [
      "BIN := node_modules/.bin",
      "BINARIES := memstore=memstore/main.ts redis=redis/main.ts \\",
      "\tproxy=proxy/main.ts prism-load=loadtest/main.ts",
      "",
      "build-plugins: proto",
      "\t@$(BUN) scripts/build.ts $(BINARIES)",
    ].join("\n");
    expect([...makefileBinaries(makefile)]).toEqual([
      ["memstore", "memstore/main.ts"],
      ["redis", "redis/main.ts"],
      ["proxy", "proxy/main.ts"],
      ["prism-load", "loadtest/main.ts"],
    ]);
    expect(makefileBinaries("all:\n\techo").size).toBe(0);
  });
});

describe("the executables of a checkout with pattern manifests", () => {
  test("come from its scripts/executables.ts, so the rows' servers and the client can be built by name=entry", () => {
    const entries = executableEntries(ROOT);
    expect(entries.get("memstore")).toBe("memstore/main.ts");
    expect(entries.get("proxy")).toBe("proxy/main.ts");
    expect(entries.get("prism-load")).toBe("loadtest/main.ts");
  });
});
