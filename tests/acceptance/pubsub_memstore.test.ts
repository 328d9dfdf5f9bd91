import { startPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { runPubSubSuite } from "./pubsub.suite";

runPubSubSuite("memstore", async () => {
  const p = await startPattern("memstore");
  return { address: p.address, close: async () => void (await p.stop()) };
});
runPubSubSuite("memstore through the proxy", () => proxyTarget("memstore", "acc-memstore", {}));
