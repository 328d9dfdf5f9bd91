import { describe, expect, test } from "bun:test";
import {
  allFigures,
  findFigures,
  isLegacy,
  LEGACY_FILES,
  loadAllowList,
  loadLegacy,
  markdownFiles,
  strayFigures,
  withoutAllowed,
} from "../../scripts/docs_figures";
import { ROOT } from "../helpers/process";

// Every measured figure in the repository's Markdown comes from a block written by the run that measured it.

const texts = (md: string) => findFigures("x.md", md).map((f) => f.text);

describe("the figure detector", () => {
  test("flags measurement-shaped figures in prose", () => {
    expect(texts("starts in a median 44 ms; idle RSS 52 MB; 0.157 ms direct")).toEqual(["44 ms", "52 MB", "0.157 ms"]);
    expect(texts("about 6600 messages/s delivered, 1,101 calls/s, TLS 0.84 %, ≈2 min")).toEqual(["6600 messages/s", "1,101 calls/s", "0.84 %", "≈2 min"]);
    expect(texts("10 µs per call, 8 KiB, 9 ns/op")).toEqual(["10 µs", "8 KiB", "9 ns/op"]);
  });

  test("flags the bare numbers of a table column whose header names a unit", () => {
    const table = ["| row | ops/s | p50 ms | errors |", "| --- | ---: | ---: | --- |", "| memstore | 16,945 | 2.86 | 0 |", "| redis | 1 / 2 | – | 3 |"].join(
      "\n",
    );
    expect(texts(table)).toEqual(["16,945", "2.86", "1 / 2"]);
  });

  test("leaves ports, versions, RFC numbers, counts, code and configuration alone", () => {
    const md = [
      "Listens on 127.0.0.1:8980, admin :9090; Bun 1.4.4, RFC-025, HTTP/2, 10,000 identities, seed 002, 3 partitions.",
      "`--duration 5s`, `sweep_interval: 1s`, `max_value_size: 8MiB` in code.",
      "```yaml",
      "idle_timeout: 5 min",
      "```",
      "| key | default |",
      "| --- | --- |",
      "| `max_keys` | 10000 |",
    ].join("\n");
    expect(texts(md)).toEqual([]);
  });

  test("skips generated blocks, and only until their own end marker", () => {
    const md = ["<!-- bench:begin -->", "p50 0.44 ms", "<!-- other:end -->", "p99 7.1 ms", "<!-- bench:end -->", "then 12 ms by hand"].join("\n");
    expect(findFigures("x.md", md).map((f) => [f.line, f.text])).toEqual([[6, "12 ms"]]);
  });

  test("an allow-list entry covers only its figure on its own sentence", () => {
    const found = findFigures("k.md", "kafkajs default 30 s.\nMeasured 30 s by hand.");
    const kept = withoutAllowed(found, [{ file: "k.md", figure: "30 s", near: "kafkajs default", why: "library default" }]);
    expect(kept.map((f) => f.line)).toEqual([2]);
  });
});

describe("the repository's Markdown", () => {
  test("is found through git, README.md and docs/ included", () => {
    const files = markdownFiles(ROOT);
    expect(files).toContain("README.md");
    expect(files).toContain("docs/benchmarks.md");
  });

  test("holds no hand-typed figure outside generated blocks (move it into the block its run writes, or link that block)", () => {
    const stray = strayFigures(ROOT).map((f) => `${f.file}:${f.line}: ${f.text} in "${f.context.slice(0, 120)}"`);
    expect(stray).toEqual([]);
  });

  test("every allow-list entry still matches a figure (delete entries whose sentence is gone)", () => {
    const found = allFigures(ROOT);
    const unused = loadAllowList(ROOT).filter((a) => !found.some((f) => f.file === a.file && f.text === a.figure && f.context.includes(a.near)));
    expect(unused).toEqual([]);
  });

  test("the legacy list stays inside bench/README.md's lab notes and only shrinks (each entry matches its line)", () => {
    const legacy = loadLegacy(ROOT);
    expect(legacy.filter((l) => !LEGACY_FILES.has(l.file))).toEqual([]);
    const found = allFigures(ROOT);
    const stale = legacy.flatMap((l) =>
      l.figures.filter((text) => !found.some((f) => isLegacy(f, [{ ...l, figures: [text] }]))).map((text) => `${l.file}: ${text} in "${l.line.slice(0, 80)}"`),
    );
    expect(stale).toEqual([]);
  });

  test("README.md and docs/ carry no legacy figure at all", () => {
    const legacy = loadLegacy(ROOT);
    const mine = allFigures(ROOT).filter((f) => (f.file === "README.md" || f.file.startsWith("docs/")) && isLegacy(f, legacy));
    expect(mine).toEqual([]);
  });
});
