import { startPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { runStreamSuite } from "./stream.suite";

runStreamSuite("memstore", async () => {
  const p = await startPattern("memstore");
  return { address: p.address, close: async () => void (await p.stop()) };
});
runStreamSuite("memstore through the proxy", () => proxyTarget("memstore", "acc-memstore", {}));
