import { describe, expect, test } from "bun:test";
import { callKind } from "./call_kind";

describe("callKind", () => {
  test("KeyValuePattern's large-value streams are streams; Store and Retrieve are unary", () => {
    expect(callKind("/prism.patterns.keyvalue.KeyValuePattern/StoreStream")).toBe("stream");
    expect(callKind("/prism.patterns.keyvalue.KeyValuePattern/RetrieveStream")).toBe("stream");
    expect(callKind("/prism.patterns.keyvalue.KeyValuePattern/Store")).toBe("unary");
    expect(callKind("/prism.patterns.keyvalue.KeyValuePattern/Retrieve")).toBe("unary");
  });
});
