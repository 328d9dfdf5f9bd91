// JavaScriptCore's garbage-collector log (BUN_JSC_logGC=1; Bun passes BUN_JSC_* options to JSC and writes the
// log to stderr), parsed into collections and stop-the-world pauses per heap, and summed over a time window.
//
// What the log says (JSC heap/Heap.cpp): "[GC<0xHEAP>: starting" when a VM's heap is created (a process's main
// thread first, then one per Worker); "[GC<0xHEAP>: START <conductor> <n>kb => EdenCollection|FullCollection" when
// a collection begins; "p=<ms>ms (max …)" each time the world resumes, the length of that stop (from the stop
// to the resume: JSC prints MonotonicTime::now() − m_stopTime); "… END]" when the collection ends; "epilogue
// <ms>ms" for the mutator-side bookkeeping after it. A collection may stop the world more than once (it resumes
// for concurrent marking and stops again): each stop is one pause here. No line carries a time: whoever reads
// the stream stamps each line as it arrives (JSC writes every line as it happens, see bench/gc_pauses.ts).

/** One thing a log line says about one heap. */
export type GcRecord =
  | { heap: string; kind: "heap" }
  | { heap: string; kind: "collection"; scope: "eden" | "full" }
  | { heap: string; kind: "pause"; ms: number }
  | { heap: string; kind: "epilogue"; ms: number };

/** A record and when its line arrived (ms since the epoch, fractional). */
export type GcEvent = GcRecord & { at: number };

const PAUSE = /(?:^|\s)p=(\d+(?:\.\d+)?(?:e[-+]?\d+)?)ms/g;

/**
 * The records in the lines of one stream, line by line. A line can hold several (a collection's START and its
 * first pause). Two threads of one process (main and a Worker) can log at once: then one heap's piece is cut
 * by another's "[GC<…>" on the same line and its rest (e.g. "=> 130kb, p=3.1ms (max …), cycle … END]") comes
 * later on a line of its own, without a prefix; that rest is given to the heap whose piece was cut.
 */
export class GcLineParser {
  /** The heap whose last piece was cut off by another heap's, if any. */
  private cut: string | undefined;

  /** The records in one line; [] for lines that are not the collector's. */
  parse(line: string): GcRecord[] {
    const out: GcRecord[] = [];
    const [before, ...pieces] = line.split("[GC<");
    if (this.cut !== undefined && before && /(?:^|\s)p=\d/.test(before)) {
      for (const p of before.matchAll(PAUSE)) out.push({ heap: this.cut, kind: "pause", ms: Number(p[1]) });
      this.cut = undefined;
    }
    pieces.forEach((piece, i) => {
      const m = /^(0x[0-9a-f]+)>: (.*)$/s.exec(piece);
      if (!m) return;
      const heap = m[1]!;
      const text = m[2]!;
      if (text.startsWith("starting ")) out.push({ heap, kind: "heap" });
      const start = /^START .*?=> (Eden|Full)Collection/.exec(text);
      if (start) out.push({ heap, kind: "collection", scope: start[1] === "Eden" ? "eden" : "full" });
      for (const p of text.matchAll(PAUSE)) out.push({ heap, kind: "pause", ms: Number(p[1]) });
      const epilogue = /^epilogue (\d+(?:\.\d+)?(?:e[-+]?\d+)?)ms/.exec(text);
      if (epilogue) out.push({ heap, kind: "epilogue", ms: Number(epilogue[1]) });
      if (i < pieces.length - 1 && !text.trimEnd().endsWith("]")) this.cut = heap;
    });
    return out;
  }
}

/** Every record in a captured log; `stamp(i)` gives line i its arrival time (0 when unknown). */
export function parseGcLog(text: string, stamp: (line: number) => number = () => 0): GcEvent[] {
  const parser = new GcLineParser();
  return text.split("\n").flatMap((line, i) => parser.parse(line).map((r) => ({ ...r, at: stamp(i) })));
}

/** A thread's (or a process's Workers') collections and pauses over a window. */
export interface GcHeapSummary {
  /** The process's main thread (its first heap), or its Workers together. */
  thread: "main" | "worker";
  /** The heaps (0x… addresses in the log) that had a record in the window. */
  heaps: string[];
  windowS: number;
  edenPerS: number;
  fullPerS: number;
  pausesPerS: number;
  /** Stop-the-world pauses ending in the window; null when there were none. */
  pauseMs: { p50: number; p99: number; max: number } | null;
  /** Sum of those pauses per second of the window, and as a share of it (0–1). */
  pausedMsPerS: number;
  pausedShare: number;
  /** Sum of the epilogues (mutator-side, after a collection) per second; not in the pauses. */
  epilogueMsPerS: number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil((q / 100) * sorted.length) - 1)]!;
}

/**
 * One process's collector over [from, to) (ms, the clock of `at`): collections started and pauses ended in it,
 * for its main thread (the first heap to appear) and, in one line, for its Workers (each Worker has a heap of
 * its own; the load generator replaces its pacer Worker between warm-up and measurement, so one Worker's
 * collection at a phase edge can start before the window and end inside it). Workers are listed only when
 * they collected or paused in the window.
 */
export function summarizeGc(events: GcEvent[], from: number, to: number): GcHeapSummary[] {
  const main = events[0]?.heap;
  const windowS = (to - from) / 1000;
  const inWindow = events.filter((e) => e.at >= from && e.at < to);
  const threads = [
    { thread: "main" as const, events: inWindow.filter((e) => e.heap === main) },
    { thread: "worker" as const, events: inWindow.filter((e) => e.heap !== main) },
  ];
  return threads.flatMap(({ thread, events: mine }) => {
    const pauses = mine.flatMap((e) => (e.kind === "pause" ? [e.ms] : [])).sort((a, b) => a - b);
    const eden = mine.filter((e) => e.kind === "collection" && e.scope === "eden").length;
    const full = mine.filter((e) => e.kind === "collection" && e.scope === "full").length;
    if (main === undefined || (thread === "worker" && eden + full === 0 && pauses.length === 0)) return [];
    const paused = pauses.reduce((a, b) => a + b, 0);
    const epilogue = mine.reduce((a, e) => a + (e.kind === "epilogue" ? e.ms : 0), 0);
    return [
      {
        thread,
        heaps: [...new Set(mine.map((e) => e.heap))],
        windowS,
        edenPerS: eden / windowS,
        fullPerS: full / windowS,
        pausesPerS: pauses.length / windowS,
        pauseMs: pauses.length ? { p50: percentile(pauses, 50), p99: percentile(pauses, 99), max: pauses.at(-1)! } : null,
        pausedMsPerS: paused / windowS,
        pausedShare: paused / (to - from),
        epilogueMsPerS: epilogue / windowS,
      },
    ];
  });
}

/**
 * Reads a process's stderr (or a FIFO it writes to) line by line, stamping each collector record with its
 * arrival time; keeps the other lines (the process's own logs) for diagnostics.
 */
export class GcLogReader {
  readonly events: GcEvent[] = [];
  private other = "";
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.read(stream);
  }

  /** The process's own (non-collector) lines so far, the last 64 KiB. */
  otherLines(): string {
    return this.other;
  }

  private async read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const parser = new GcLineParser();
    let partial = "";
    for await (const chunk of stream) {
      const at = performance.timeOrigin + performance.now();
      const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        const records = parser.parse(line);
        if (records.length) for (const r of records) this.events.push({ ...r, at });
        else if (line.trim() && !/\[GC<|^GC END!|^Requesting GC /.test(line)) this.other = (this.other + line + "\n").slice(-65_536);
      }
    }
  }
}

/** The pauses of all the given streams as disjoint spans [start, end] within [from, to], merged where they overlap. */
function pausedSpans(streams: GcEvent[][], from: number, to: number): Array<[number, number]> {
  const spans = streams
    .flat()
    .flatMap((e) => (e.kind === "pause" ? [[Math.max(from, e.at - e.ms), Math.min(to, e.at)] as [number, number]] : []))
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const [a, b] of spans) {
    const last = merged.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

/**
 * The share of [from, to) during which at least one of the given streams' threads was stopped: each pause
 * placed at [arrival − length, arrival] (its line is written when the world resumes), overlaps counted once.
 * For a call through several processes, how much of the time some thread on its path could not run.
 */
export function anyPausedShare(streams: GcEvent[][], from: number, to: number): number {
  return pausedSpans(streams, from, to).reduce((a, [x, y]) => a + (y - x), 0) / (to - from);
}

/**
 * What the pauses alone would do to a call sent at a random moment of [from, to): it waits out the rest of the
 * stopped span it lands in (0 outside them); the q-quantile of that wait, in ms. An estimate of how much of a
 * latency percentile the pauses can account for (it ignores the call's own service time and any queue a pause
 * leaves behind, and treats the path as stopped whenever one of its threads is).
 */
export function pauseOnlyWait(streams: GcEvent[][], from: number, to: number, q: number): number {
  const lengths = pausedSpans(streams, from, to).map(([a, b]) => b - a);
  const tail = (1 - q) * (to - from); // time during which the wait must exceed the answer
  const exceeding = (w: number) => lengths.reduce((a, l) => a + Math.max(0, l - w), 0);
  if (exceeding(0) <= tail) return 0;
  let lo = 0;
  let hi = Math.max(...lengths);
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (exceeding(mid) > tail) lo = mid;
    else hi = mid;
  }
  return hi;
}
