import { startPattern } from "../helpers/process";
import { runPubSubSuite } from "./pubsub.suite";

runPubSubSuite("memstore", async () => {
  const p = await startPattern("memstore");
  return { address: p.address, close: async () => void (await p.stop()) };
});
