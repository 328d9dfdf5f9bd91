/**
 * The ways a KeyValuePattern conformance run reaches its target: the generated stubs (the protocol as any gRPC
 * client sees it) or @prism/client (capability checks, retries and idempotency keys in the way). The suite's
 * assertions are the same for both; a runner file picks the way in.
 */
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { connect as connectClient } from "../../client/src/index";
import type { ServiceClient } from "../../sdk/grpc/types";
import { connect, type Target } from "./target";

export interface KeyValueWayIn {
  /** Appended to the suite's name. */
  label: string;
  open(t: Target): Promise<{ kv: ServiceClient<typeof KeyValuePattern>; close(): void }>;
}

export const viaStubs: KeyValueWayIn = {
  label: "",
  open: async (t) => {
    const c = connect(t, { kv: KeyValuePattern });
    return { kv: c.kv, close: c.close };
  },
};

/** Emulation events are swallowed (the suite runs emulated configurations on purpose). */
export const viaClient: KeyValueWayIn = {
  label: " (via @prism/client)",
  open: async (t) => {
    const c = await connectClient({
      address: t.address,
      namespace: t.metadata?.["x-prism-namespace"],
      metadata: t.metadata,
      deadline: 15_000,
      onEvent: () => {},
    });
    // The client has every call of the stubs under the same names, taking and returning the same messages.
    return { kv: c.keyValue as unknown as ServiceClient<typeof KeyValuePattern>, close: () => c.close() };
  },
};
