import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { ID_HEADER, metadataOf, toHeaders } from "./headers";
import { toPrismError } from "./errors";

describe("headers", () => {
  test("metadata round-trips, keys keep their case, the pattern's own headers stay out", () => {
    const h = toHeaders({ "x-Trace": "abc", note: "héllo" }, { [ID_HEADER]: "id1" });
    expect(h.get(ID_HEADER)).toBe("id1");
    expect(metadataOf(h)).toEqual({ "x-Trace": "abc", note: "héllo" });
  });

  test("reserved names and names NATS cannot carry are INVALID_ARGUMENT", () => {
    for (const bad of ["prism-id", "Nats-Msg-Id", "has space", "a:b"]) {
      let code: number = Code.OK;
      try {
        toHeaders({ [bad]: "v" }, {});
      } catch (e) {
        code = (e as PrismError).code;
      }
      expect(code).toBe(Code.INVALID_ARGUMENT);
    }
  });
});

describe("nats error mapping", () => {
  test("lost connections and timeouts are UNAVAILABLE; oversized payloads and missing streams keep their meaning", () => {
    expect(toPrismError(Object.assign(new Error("TIMEOUT"), { code: "TIMEOUT" }), "x").code).toBe(Code.UNAVAILABLE);
    expect(toPrismError(Object.assign(new Error("503"), { code: "503" }), "x").code).toBe(Code.UNAVAILABLE);
    expect(toPrismError(Object.assign(new Error("MAX_PAYLOAD_EXCEEDED"), { code: "MAX_PAYLOAD_EXCEEDED" }), "x").code).toBe(Code.INVALID_ARGUMENT);
    expect(toPrismError(Object.assign(new Error("stream not found"), { code: "404", api_error: { code: 404, err_code: 10059 } }), "x").code).toBe(
      Code.NOT_FOUND,
    );
    expect(toPrismError(new Error("weird"), "x").code).toBe(Code.INTERNAL);
  });
});
