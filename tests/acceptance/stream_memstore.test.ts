import { startPattern } from "../helpers/process";
import { runStreamSuite } from "./stream.suite";

runStreamSuite("memstore", async () => {
  const p = await startPattern("memstore");
  return { address: p.address, close: async () => void (await p.stop()) };
});
