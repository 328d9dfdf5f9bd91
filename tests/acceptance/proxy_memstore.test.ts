import { killIfAlive, startProxy } from "../proxy/harness";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runListSuite } from "./list.suite";
import type { Target } from "./target";

/** dist/proxy in front of dist/memstore: namespace "acceptance" owns its pattern (and its capacity bound). */
async function proxyMemstore(): Promise<Target> {
  const proxy = await startProxy("namespaces:\n  - name: acceptance\n    pattern: memstore\n    config: { max_keys: 3000 }\n");
  const pids = (await proxy.patterns()).map((p) => p.pid);
  return {
    address: proxy.address,
    metadata: { "x-prism-namespace": "acceptance" },
    capabilities: { capacity: { maxKeys: 3000 } },
    close: async () => {
      const code = await proxy.stop();
      proxy.cleanup();
      killIfAlive(pids);
      if (code !== 0) throw new Error(`proxy exited with ${code}:\n${proxy.output()}`);
    },
  };
}

runKeyValueSuite("proxy -> memstore", proxyMemstore);
runListSuite("proxy -> memstore", proxyMemstore);
