/**
 * Cache-aside in front of a slow origin, on Prism's key-value pattern.
 *   make run                                  # the proxy on 127.0.0.1:8980
 *   bun examples/cache-aside/main.ts          # this service on http://127.0.0.1:8081
 *   curl -i localhost:8081/users/7            # x-cache: miss, then hit
 *   curl -X PUT -d '{"name":"Grace"}' localhost:8081/users/7   # writes the origin, evicts the cache entry
 * Flags: --port N (0 = any free port; the address is printed), --ttl SECONDS. PRISM_ADDR, PRISM_NAMESPACE ("cache").
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { connect, PrismClientError } from "../../client/src/index";

const { values } = parseArgs({ options: { port: { type: "string", default: "8081" }, ttl: { type: "string", default: "60" } } });
const ttlSeconds = Number(values.ttl);

/** The slow system of record the cache stands in front of (a stand-in: a map and a delay). */
const origin = {
  users: new Map<string, { name: string }>([["7", { name: "Ada" }]]),
  reads: 0,
  async load(id: string) {
    this.reads++;
    await new Promise((r) => setTimeout(r, 50));
    return this.users.get(id);
  },
};

const prism = await connect({
  address: process.env.PRISM_ADDR ?? "127.0.0.1:8980",
  namespace: process.env.PRISM_NAMESPACE ?? "cache",
  deadline: 2_000,
});
const kv = prism.keyValue;

/** GET: the cache, else the origin (then cached with a TTL). A cache failure falls back to the origin. */
async function getUser(id: string, res: ServerResponse): Promise<void> {
  const key = `user:${id}`;
  const cached = await kv.getText(key).catch((err) => {
    console.warn(`cache read failed (${PrismClientError.from(err).codeName}); serving from the origin`);
    return undefined;
  });
  if (cached !== undefined) return send(res, 200, cached, "hit");
  const user = await origin.load(id);
  if (!user) return send(res, 404, JSON.stringify({ error: "no such user" }), "miss");
  const body = JSON.stringify({ id, ...user });
  await kv.set(key, body, { ttlSeconds }).catch(() => {});
  send(res, 200, body, "miss");
}

/** PUT: write the origin first, then evict (never write the cache: a racing reader could cache the old value). */
async function putUser(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  origin.users.set(id, JSON.parse(raw) as { name: string });
  await kv.del(`user:${id}`);
  send(res, 204, "", "evicted");
}

function send(res: ServerResponse, status: number, body: string, cache: string): void {
  res.writeHead(status, { "content-type": "application/json", "x-cache": cache, "x-origin-reads": String(origin.reads) });
  res.end(body);
}

const server = createServer((req, res) => {
  const m = /^\/users\/([\w-]+)$/.exec(req.url ?? "");
  const work = !m ? (send(res, 404, "", "none"), Promise.resolve()) : req.method === "PUT" ? putUser(m[1]!, req, res) : getUser(m[1]!, res);
  work.catch((err) => send(res, 502, JSON.stringify({ error: PrismClientError.from(err).message }), "error"));
});
server.listen(Number(values.port), "127.0.0.1", () => {
  const a = server.address() as { port: number };
  console.log(`cache-aside listening on http://127.0.0.1:${a.port}`);
});
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    server.close();
    prism.close();
  });
