// The arithmetic and the table of `make bench-compare` (bench/compare.ts): which build goes first in each round,
// and per row and figure the ratio head / base of each round, summarised as its median and min–max.

export type Side = "base" | "head";

/** One figure of one row, and whether a larger value is better (ops/s) or worse (latency, CPU per call). */
export interface Figure {
  name: string;
  higherIsBetter: boolean;
}

/** One measurement of one row on one side in one round: figure name → value (absent when not measured). */
export type Sample = Record<string, number | undefined>;

/** Both sides of one row in one round. */
export interface RoundPair {
  round: number;
  base: Sample;
  head: Sample;
}

/** The order of the two builds in a round: base first in even rounds, head first in odd ones, so drift favours neither. */
export function sidesInRound(round: number): [Side, Side] {
  return round % 2 === 0 ? ["base", "head"] : ["head", "base"];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** What one figure of one row did across the rounds. */
export interface FigureSummary {
  figure: Figure;
  baseMedian: number;
  headMedian: number;
  /** head / base of each round where both sides measured the figure, in round order. */
  ratios: number[];
  ratioMedian: number;
  ratioMin: number;
  ratioMax: number;
  /** Every round's ratio on the same side of 1: "better" or "worse" for head; undefined when they straddle 1. */
  everyRound?: "better" | "worse";
}

/** Pairs base and head round by round; a figure a side lacks in a round leaves that round out of its ratios. */
export function summarise(figure: Figure, pairs: RoundPair[]): FigureSummary | undefined {
  const both = pairs.filter((p) => isMeasured(p.base[figure.name]) && isMeasured(p.head[figure.name]));
  if (both.length === 0) return undefined;
  const base = both.map((p) => p.base[figure.name]!);
  const head = both.map((p) => p.head[figure.name]!);
  const ratios = both.map((_, i) => head[i]! / base[i]!);
  const better = (r: number) => (figure.higherIsBetter ? r > 1 : r < 1);
  const worse = (r: number) => (figure.higherIsBetter ? r < 1 : r > 1);
  return {
    figure,
    baseMedian: median(base),
    headMedian: median(head),
    ratios,
    ratioMedian: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    everyRound: ratios.every(better) ? "better" : ratios.every(worse) ? "worse" : undefined,
  };
}

const isMeasured = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && v > 0;

/** A figure in 3 significant digits, thousands grouped from 10,000 up. */
export function formatValue(v: number): string {
  if (v >= 10_000) return Math.round(v).toLocaleString("en-US");
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export interface RowSummary {
  id: string;
  label: string;
  figures: FigureSummary[];
  /** Why the row has no figures (not run, failed), or what to know about its samples (errors, unsent calls). */
  notes: string[];
}

/** The table: per row and figure the medians of each side and head / base as median (min–max) over the rounds. */
export function compareMarkdown(rows: RowSummary[]): string {
  const lines = [
    "| row | figure | base (median) | head (median) | head / base, median of rounds | min–max | each round | every round |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  for (const row of rows) {
    if (row.figures.length === 0) lines.push(`| ${row.label} | – | – | – | – | – | – | ${row.notes.join("; ") || "no figures"} |`);
    for (const f of row.figures) {
      lines.push(
        `| ${row.label} | ${f.figure.name} | ${formatValue(f.baseMedian)} | ${formatValue(f.headMedian)} | **${f.ratioMedian.toFixed(3)}** | ${f.ratioMin.toFixed(3)}–${f.ratioMax.toFixed(3)} | ${f.ratios.map((r) => r.toFixed(2)).join(", ")} | ${f.everyRound ?? "–"} |`,
      );
    }
  }
  const notes = rows.flatMap((r) => (r.figures.length > 0 ? r.notes.map((n) => `- ${r.label}: ${n}`) : []));
  return `${lines.join("\n")}\n${notes.length > 0 ? `\n${notes.join("\n")}\n` : ""}`;
}
