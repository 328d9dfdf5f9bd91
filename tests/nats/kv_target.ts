/**
 * dist/nats in key-value mode as an acceptance target, on the shared server of scripts/services (JetStream on,
 * max_payload 8MB), with a bucket of its own that is deleted on close. Keys are limited to 1024 bytes: a NATS KV
 * key becomes part of a protocol line (max_control_line 4096) once escaped (up to 3 characters per byte).
 */
import { randomBytes } from "node:crypto";
import { connect } from "nats";
import type { Target } from "../acceptance/target";
import { proxyTarget } from "../helpers/proxy_target";
import { natsUrl, requireService } from "../helpers/services";
import { natsPattern, testConfig } from "./target";

export const KV_MAX_KEY_BYTES = 1024;

/** Every key-value feature is served (TTL, scan and batch by the SDK's emulation layer); keys up to 1024 bytes. */
export const NATS_KV_CAPABILITIES = { limits: { maxKeyBytes: KV_MAX_KEY_BYTES, maxValueBytes: 8 * 1024 * 1024 } };

export function uniqueBucket(label: string): string {
  return `${label}_${randomBytes(4).toString("hex")}`;
}

/** Deletes a bucket (its stream KV_<bucket>) from the shared server. */
export async function deleteBucket(bucket: string): Promise<void> {
  const nc = await connect({ servers: natsUrl() });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

function kvConfig(namespace: string, bucket: string): Record<string, unknown> {
  return { ...testConfig(natsUrl(), namespace), kv: { bucket, storage: "memory" }, max_key_size: KV_MAX_KEY_BYTES };
}

/** dist/nats in KV mode, run directly. */
export async function natsKvTarget(): Promise<Target> {
  await requireService("nats");
  const bucket = uniqueBucket("acc_kv");
  const t = await natsPattern(kvConfig(`acc-kv-${randomBytes(4).toString("hex")}`, bucket), () => deleteBucket(bucket));
  return { ...t, capabilities: NATS_KV_CAPABILITIES };
}

/** dist/nats in KV mode, launched and reached through dist/proxy. */
export async function natsKvProxyTarget(): Promise<Target> {
  await requireService("nats");
  const bucket = uniqueBucket("acc_kv_proxy");
  const namespace = `acc-kv-proxy-${randomBytes(4).toString("hex")}`;
  const { namespace: _ns, ...config } = kvConfig(namespace, bucket);
  const t = await proxyTarget("nats", namespace, config, () => deleteBucket(bucket));
  return { ...t, capabilities: NATS_KV_CAPABILITIES };
}
