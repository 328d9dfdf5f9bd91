import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from "nats";
import { Code } from "@prism/sdk";
import type { NatsConfig } from "./config";
import { toPrismError } from "./errors";

/**
 * Creates the JetStream stream `name` over `subject` when it does not exist, with limits retention and the
 * configured storage, replicas and limits (`extra` adds settings, e.g. a duplicate window). A stream created
 * meanwhile by another call or pattern instance is fine.
 */
export async function ensureLimitsStream(
  jsm: JetStreamManager,
  cfg: NatsConfig,
  name: string,
  subject: string,
  extra: Partial<StreamConfig> = {},
): Promise<void> {
  try {
    await jsm.streams.info(name);
    return;
  } catch (err) {
    if (toPrismError(err, "").code !== Code.NOT_FOUND) throw err;
  }
  const js = cfg.jetstream;
  try {
    await jsm.streams.add({
      name,
      subjects: [subject],
      storage: js.storage === "memory" ? StorageType.Memory : StorageType.File,
      num_replicas: js.replicas,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(js.max_age),
      max_bytes: js.max_bytes > 0 ? js.max_bytes : -1,
      max_msgs: js.max_msgs > 0 ? js.max_msgs : -1,
      ...extra,
    });
  } catch (addErr) {
    await jsm.streams.info(name).catch(() => Promise.reject(addErr));
  }
}
