import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MulticastRegistryPattern } from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { Code } from "../../sdk/grpc/errors";
import { codeOf, connect } from "../acceptance/target";
import { COMBOS, directTarget, type MulticastTarget } from "./targets";

// max_identities bounds live registrations (RESOURCE_EXHAUSTED beyond it); re-registering an identity held already
// (a heartbeat) is always accepted; GetCapabilities reports the bound.
describe("multicast registry: max_identities", () => {
  let t: MulticastTarget;
  let c: ReturnType<typeof connect<{ mr: typeof MulticastRegistryPattern }>>;
  beforeAll(async () => {
    t = await directTarget(COMBOS.find((x) => x.name === "memstore")!, { max_identities: 3 });
    c = connect(t, { mr: MulticastRegistryPattern });
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await t?.close();
  });

  test("the fourth identity is refused, a heartbeat of the third is not, and room returns after Unregister", async () => {
    expect((await c.mr.getCapabilities({})).maxIdentities).toBe(3);
    for (const identity of ["a", "b", "c"]) expect((await c.mr.register({ identity })).created).toBe(true);
    expect(await codeOf(() => c.mr.register({ identity: "d" }))).toBe(Code.RESOURCE_EXHAUSTED);
    expect((await c.mr.register({ identity: "c", metadata: { beat: 1 } })).created).toBe(false);
    expect((await c.mr.unregister({ identity: "a" })).found).toBe(true);
    expect((await c.mr.register({ identity: "d" })).created).toBe(true);
  });
});
