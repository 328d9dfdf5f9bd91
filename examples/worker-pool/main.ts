/**
 * A worker pool on Prism's Producer/Consumer pattern, with dead letters.
 *   make run                                          # the proxy on 127.0.0.1:8980 (namespace "jobs")
 *   bun examples/worker-pool/main.ts                  # workers + an HTTP front on http://127.0.0.1:8082
 *   curl -X POST -d '{"text":"hello"}' localhost:8082/jobs                 # {"id":"…"}; a worker upper-cases it
 *   curl localhost:8082/jobs/ID                                              # status, result, attempts, worker
 *   curl -X POST -d '{"text":"flaky","failures":5}' localhost:8082/jobs      # fails its first 5 runs: dead letter
 *   curl localhost:8082/dead-letters; curl -X POST localhost:8082/dead-letters/redrive; curl localhost:8082/stats
 * Every worker is one consumer of the group "workers" holding one job at a time (max_in_flight 1): a job that
 * throws is nacked and delivered again after a pause, and after the namespace's max_deliveries it is a dead letter.
 * Flags: --port N (0 = any free port; the address is printed), --workers N. PRISM_ADDR, PRISM_NAMESPACE ("jobs").
 */
import { createServer, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { connect, type QueueDelivery } from "../../client/src/index";

const { values } = parseArgs({ options: { port: { type: "string", default: "8082" }, workers: { type: "string", default: "3" } } });
const TOPIC = "jobs";
const GROUP = "workers";

interface Job {
  text: string;
  /** Runs of this job that fail before one succeeds (to show retries and dead letters). */
  failures?: number;
}
interface JobStatus {
  status: "queued" | "retrying" | "done";
  result?: string;
  runs: number;
  worker?: string;
  error?: string;
}
const jobs = new Map<string, JobStatus>();

const prism = await connect({
  address: process.env.PRISM_ADDR ?? "127.0.0.1:8980",
  namespace: process.env.PRISM_NAMESPACE ?? "jobs",
  deadline: 5_000,
});
const queue = prism.queue;

/** The work itself: upper-case the text; fail while the job asks for failures. */
async function perform(id: string, job: Job, state: JobStatus): Promise<string> {
  state.runs++;
  if (state.runs <= (job.failures ?? 0)) throw new Error(`run ${state.runs} of ${id} failed on purpose`);
  return job.text.toUpperCase();
}

async function worker(name: string, signal: AbortSignal): Promise<void> {
  const handle = async (d: QueueDelivery) => {
    const id = d.messageId;
    const state = jobs.get(id) ?? { status: "queued", runs: 0 };
    jobs.set(id, state);
    try {
      state.result = await perform(id, JSON.parse(new TextDecoder().decode(d.payload)) as Job, state);
      Object.assign(state, { status: "done", worker: name, error: undefined });
      await d.ack();
    } catch (err) {
      Object.assign(state, { status: "retrying", worker: name, error: (err as Error).message });
      await d.nack({ redeliverAfterMs: 100, error: (err as Error).message });
    }
  };
  try {
    for await (const d of queue.consume(TOPIC, GROUP, { consumerId: name, maxInFlight: 1, signal })) await handle(d);
  } catch (err) {
    if (!signal.aborted) console.error(`${name} stopped: ${(err as Error).message}`);
  }
}

const stop = new AbortController();
const workers = Array.from({ length: Number(values.workers) }, (_, i) => worker(`worker-${i + 1}`, stop.signal));
// A message reaches the groups that exist when it is published: make sure "workers" does before taking jobs.
await queue.stats(TOPIC, GROUP);

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? Number(v) : v)));
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? "/", "http://x");
    const jobId = /^\/jobs\/([^/]+)$/.exec(url.pathname)?.[1];
    if (req.method === "POST" && url.pathname === "/jobs") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const job = JSON.parse(raw) as Job;
      if (typeof job.text !== "string") return send(res, 400, { error: 'a job is {"text": "...", "failures": N}' });
      const { messageId } = await queue.publish(TOPIC, { payload: JSON.stringify(job) });
      if (!jobs.has(messageId)) jobs.set(messageId, { status: "queued", runs: 0 });
      return send(res, 202, { id: messageId });
    }
    if (req.method === "GET" && jobId) {
      const s = jobs.get(jobId);
      return s ? send(res, 200, { id: jobId, ...s }) : send(res, 404, { error: "no such job" });
    }
    if (req.method === "GET" && url.pathname === "/dead-letters") {
      const dead = [];
      for await (const m of queue.allDeadLetters(TOPIC, GROUP))
        dead.push({ id: m.messageId, attempts: m.deliveryAttempts, error: m.lastError, job: JSON.parse(new TextDecoder().decode(m.payload)) });
      return send(res, 200, dead);
    }
    if (req.method === "POST" && url.pathname === "/dead-letters/redrive") return send(res, 200, await queue.redrive(TOPIC, GROUP));
    if (req.method === "GET" && url.pathname === "/stats") return send(res, 200, await queue.stats(TOPIC, GROUP));
    send(res, 404, { error: "POST /jobs, GET /jobs/ID, GET /dead-letters, POST /dead-letters/redrive, GET /stats" });
  } catch (err) {
    send(res, 502, { error: (err as Error).message });
  }
});

server.listen(Number(values.port), "127.0.0.1", () => {
  const a = server.address() as { port: number };
  console.log(`worker pool (${workers.length} workers) listening on http://127.0.0.1:${a.port}`);
});

for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    stop.abort();
    server.close();
    void Promise.all(workers).then(() => {
      prism.close();
      process.exit(0);
    });
  });
