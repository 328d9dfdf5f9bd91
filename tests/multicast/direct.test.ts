import { runMulticastSuite } from "./suite";
import { COMBOS, directTarget } from "./targets";

// Every slot combination, each pattern run directly from its own --config.
for (const combo of COMBOS) runMulticastSuite(combo.name, () => directTarget(combo), { stopsMessaging: combo.stopsMessaging });
