import { writeFileSync } from "node:fs";
import { PrismError } from "../sdk/grpc/errors";
import { parseFlags, UsageError, USAGE } from "./flags";
import { startProgress } from "./progress";
import { formatReport } from "./report";
import { runLoad } from "./run";

// prism-load: drives a Prism proxy or pattern with gRPC load and reports latency and throughput.
let opts;
try {
  opts = parseFlags(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`prism-load: ${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (!opts) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const abort = new AbortController();
const onSignal = () => abort.abort();
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const showProgress = opts.progress === "always" || (opts.progress === "auto" && process.stderr.isTTY === true);
let stopProgress = () => {};
try {
  const report = await runLoad(opts, {
    signal: abort.signal,
    onMeasure: (stats) => {
      stopProgress = startProgress(opts.operation, stats, showProgress);
    },
  });
  stopProgress();
  const json = JSON.stringify(report, null, 2) + "\n";
  if (opts.jsonFile === "-") process.stdout.write(json);
  else {
    process.stdout.write(formatReport(report));
    if (opts.jsonFile) writeFileSync(opts.jsonFile, json);
  }
  // A run in which nothing succeeded is a failure a script should notice.
  process.exit(report.ok === 0 ? 1 : 0);
} catch (err) {
  stopProgress();
  const e = PrismError.from(err);
  process.stderr.write(`prism-load: ${e.message}\n`);
  process.exit(1);
}
