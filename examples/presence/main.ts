/**
 * A presence service on Prism's Multicast Registry: who is online in which room, and messages to a room.
 *   make run                                   # the proxy, with the "presence" namespace
 *   bun examples/presence/main.ts              # this service on http://127.0.0.1:8082
 *   curl -X POST 'localhost:8082/presence/alice?room=lobby'      # join (repeat within the TTL as a heartbeat)
 *   curl -N localhost:8082/inbox/alice                           # alice's messages, as server-sent events
 *   curl localhost:8082/rooms/lobby                              # who is there
 *   curl -X POST -d 'hello' localhost:8082/rooms/lobby/messages  # to everyone in the room
 *   curl -X DELETE localhost:8082/presence/alice                 # leave
 * Flags: --port N (0 = any free port), --ttl SECONDS (presence expires without a heartbeat). PRISM_ADDR, PRISM_NAMESPACE ("presence").
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { connect, PrismClientError, where } from "../../client/src/index";

const { values } = parseArgs({ options: { port: { type: "string", default: "8082" }, ttl: { type: "string", default: "30" } } });
const ttlSeconds = Number(values.ttl);

const prism = await connect({
  address: process.env.PRISM_ADDR ?? "127.0.0.1:8980",
  namespace: process.env.PRISM_NAMESPACE ?? "presence",
});
const registry = prism.multicast;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function body(req: IncomingMessage): Promise<string> {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw;
}

/** Messages to one user as server-sent events, until the HTTP client goes away (which cancels the subscription). */
async function inbox(user: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController();
  req.on("close", () => gone.abort());
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.write(": subscribed\n\n");
  try {
    for await (const m of registry.subscribe(user, { signal: gone.signal })) res.write(`id: ${m.messageId}\ndata: ${new TextDecoder().decode(m.payload)}\n\n`);
  } catch (err) {
    if (!gone.signal.aborted) res.write(`event: error\ndata: ${PrismClientError.from(err).message}\n\n`);
  }
  res.end();
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://x");
  let m: RegExpExecArray | null;
  if ((m = /^\/presence\/([\w-]+)$/.exec(url.pathname)) && req.method === "POST") {
    const room = url.searchParams.get("room") ?? "lobby";
    const r = await registry.register(m[1]!, { room, status: "online" }, { ttlSeconds });
    return json(res, r.created ? 201 : 200, { user: m[1], room, expires_at: Number(r.expiresAt) });
  }
  if ((m = /^\/presence\/([\w-]+)$/.exec(url.pathname)) && req.method === "DELETE") {
    const r = await registry.unregister(m[1]!);
    return json(res, r.found ? 200 : 404, { user: m[1], left: r.found });
  }
  if ((m = /^\/rooms\/([\w-]+)$/.exec(url.pathname)) && req.method === "GET") {
    const users = [];
    for await (const id of registry.identities(where.eq("room", m[1]!))) users.push({ user: id.identity, listening: id.subscribed });
    return json(res, 200, { room: m[1], users: users.sort((a, b) => a.user.localeCompare(b.user)) });
  }
  if ((m = /^\/rooms\/([\w-]+)\/messages$/.exec(url.pathname)) && req.method === "POST") {
    const r = await registry.multicast({ filter: where.eq("room", m[1]!), payload: new TextEncoder().encode(await body(req)) });
    return json(res, 200, { room: m[1], targets: r.targetCount, delivered: r.deliveredCount, failed: r.failedCount });
  }
  if ((m = /^\/inbox\/([\w-]+)$/.exec(url.pathname)) && req.method === "GET") return inbox(m[1]!, req, res);
  json(res, 404, { error: "no such route" });
}

const server = createServer((req, res) => {
  route(req, res).catch((err) => {
    const e = PrismClientError.from(err);
    json(res, e.reason === "invalid_argument" ? 400 : 502, { error: e.message, code: e.codeName });
  });
});
server.listen(Number(values.port), "127.0.0.1", () => {
  const a = server.address() as { port: number };
  console.log(`presence listening on http://127.0.0.1:${a.port}`);
});
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    server.closeAllConnections();
    server.close();
    prism.close();
  });
