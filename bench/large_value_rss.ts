// Bounded memory for large values (issue 20 item 3): moves one value (default 1 GiB) through dist/proxy into a
// backend with StoreStream and back with RetrieveStream, and prints the peak resident set of the proxy and of the
// pattern it launched (VmHWM) beside their resident set before the value moved. Needs make build-plugins.
//   bun bench/large_value_rss.ts [--backend redis|postgres|nats-kv|memstore] [--mib 1024]
// (memstore keeps the value in its own memory: its pattern's RSS grows with it by design.)
import { parseArgs } from "node:util";
import { largeValueMarkdown, measureLargeValue } from "./large_value";

const { values } = parseArgs({ options: { backend: { type: "string", default: "redis" }, mib: { type: "string", default: "1024" } } });
const size = Number(values.mib) * 1024 * 1024;
const r = await measureLargeValue(values.backend!, size, (s) => process.stderr.write(`large value: ${s}\n`));
process.stdout.write(largeValueMarkdown([r]));
