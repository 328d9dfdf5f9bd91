/**
 * Memory of a pattern whose only subscriber stops reading while publishing goes on: prints the pattern's RSS
 * and its flow-control health details after every 3000 x 8 KiB messages. Kafka should plateau (partitions
 * paused, nothing lost); NATS should plateau too (oldest messages dropped and counted).
 *
 *   ./node_modules/.bin/bun tests/kafka/slow_subscriber_bench.ts kafka|nats [rounds]
 *
 * Kafka runs against the shared broker (make services); NATS against a nats-server of its own.
 */
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { connect, utf8 } from "../acceptance/target";
import { kafkaBrokers } from "../helpers/services";
import { startNatsServer, type DedicatedNats } from "../nats/server";
import { natsPattern, testConfig as natsConfig } from "../nats/target";
import { rssOf } from "./proc_stats";
import { deleteNamespaceTopics, kafkaPattern, testConfig, uniqueNamespace } from "./target";

const which = process.argv[2] === "nats" ? "nats" : "kafka";
const rounds = Number(process.argv[3] ?? 6);
const ns = uniqueNamespace("rss");
let server: DedicatedNats | undefined;
const t =
  which === "kafka"
    ? await kafkaPattern({ ...testConfig(kafkaBrokers(), ns), consumer: { buffer: 32, max_wait: "100ms", heartbeat_interval: "200ms" } })
    : await natsPattern({ ...natsConfig((server = await startNatsServer()).url), subscriber_buffer: 100 });
const c = connect(t, { ps: PubSubBasicInterface, life: LifecycleInterface });
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
try {
  const topic = `rss-${Date.now()}`;
  const abort = new AbortController();
  const it = c.ps.subscribe({ topic, subscriberId: "slow" }, { signal: abort.signal, timeoutMs: 0 })[Symbol.asyncIterator]();
  const first = it.next();
  let live = false;
  void first.then(() => (live = true));
  for (let i = 0; !live && i < 200; i++) {
    await c.ps.publish({ topic, payload: utf8("probe"), key: `p${i}` });
    await Bun.sleep(100);
  }
  await first;
  console.log(`${which}: pattern RSS ${mib(await rssOf(t.pid))} MiB with a live subscriber that now stops reading`);
  const payload = new Uint8Array(8192);
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < 3000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => c.ps.publish({ topic, payload, key: `k${j}` })));
    await Bun.sleep(500);
    const d = (await c.life.healthCheck({})).details;
    console.log(
      `${which}: after ${round * 3000} x 8 KiB (${mib(round * 3000 * 8192)} MiB): RSS ${mib(await rssOf(t.pid))} MiB, buffered ${d.buffered_messages}` +
        (which === "kafka" ? `, paused partitions ${d.paused_partitions}` : `, dropped ${d.dropped_messages_total}`),
    );
  }
  abort.abort();
} finally {
  c.close();
  await t.close();
  if (server) await server.close();
  else await deleteNamespaceTopics(kafkaBrokers(), ns);
}
