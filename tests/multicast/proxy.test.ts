import { runMulticastSuite } from "./suite";
import { COMBOS, viaProxyTarget } from "./targets";

// Slot combinations behind dist/proxy: the proxy checks the slots against what the pattern declares at
// registration, launches it, and hands the slots over in Initialize; Subscribe streams through the proxy.
for (const combo of COMBOS.filter((c) => !c.directOnly))
  runMulticastSuite(`${combo.name} through the proxy`, () => viaProxyTarget(combo), { stopsMessaging: combo.stopsMessaging });
