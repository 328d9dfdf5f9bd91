import { ROOT, startPattern } from "../helpers/process";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runListSuite } from "./list.suite";
import type { Target } from "./target";

/** dist/memstore over real gRPC, one process per suite (it owns the capacity bound, so nothing else writes to it). */
async function memstore(): Promise<Target> {
  const p = await startPattern("memstore", ["--config", `${ROOT}/tests/acceptance/memstore.yaml`]);
  return {
    address: p.address,
    capabilities: { capacity: { maxKeys: 3000 } },
    close: async () => {
      const code = await p.stop();
      if (code !== 0) throw new Error(`memstore exited with ${code}:\n${p.output()}`);
    },
  };
}

runKeyValueSuite("memstore", memstore);
runListSuite("memstore", memstore);
