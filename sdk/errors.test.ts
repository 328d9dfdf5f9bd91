import { describe, expect, test } from "bun:test";
import { Metadata, status } from "@grpc/grpc-js";
import { Code, codeName, PrismError } from "./errors";
import * as grpcErrors from "./grpc/errors";
import * as sdk from "./index";

describe("sdk/errors (transport-neutral)", () => {
  test("codes are numbered as gRPC numbers them and named for metric labels", () => {
    for (const [name, n] of Object.entries(Code)) {
      expect(status[name as keyof typeof status]).toBe(n);
      expect(codeName(n)).toBe(name);
    }
    expect(codeName(99)).toBe("UNKNOWN");
  });

  test("from() keeps a PrismError, a remote status's code, maps abort and timeout, falls back otherwise", () => {
    const e = new PrismError(Code.NOT_FOUND, "gone");
    expect(PrismError.from(e)).toBe(e);
    const remote = Object.assign(new Error("5 NOT_FOUND: k"), { code: 5, details: "k", metadata: new Metadata() });
    expect(PrismError.from(remote)).toMatchObject({ code: Code.NOT_FOUND, message: "k" });
    expect(PrismError.from(new DOMException("x", "AbortError")).code).toBe(Code.CANCELLED);
    expect(PrismError.from(new DOMException("slow", "TimeoutError")).code).toBe(Code.DEADLINE_EXCEEDED);
    expect(PrismError.from(new Error("boom")).code).toBe(Code.INTERNAL);
    expect(PrismError.from("str", Code.UNAVAILABLE)).toMatchObject({ code: Code.UNAVAILABLE, message: "str" });
  });

  test("the module imports nothing from a transport", async () => {
    const src = await Bun.file(new URL("./errors.ts", import.meta.url)).text();
    expect(src).not.toMatch(/from\s+"@grpc|from\s+"\.\/grpc/);
  });
});

describe("sdk/grpc/errors (the one gRPC mapping)", () => {
  test("toGrpcStatus carries code, details and metadata", () => {
    const st = grpcErrors.toGrpcStatus(new PrismError(Code.RESOURCE_EXHAUSTED, "full", { metadata: { "retry-after": "1" } }));
    expect(st.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(st.details).toBe("full");
    expect(st.metadata.get("retry-after")).toEqual(["1"]);
    expect(grpcErrors.toGrpcStatus(new Error("x")).code).toBe(status.INTERNAL);
  });

  test("old import paths and the SDK entry export the same error type", () => {
    expect(grpcErrors.PrismError).toBe(PrismError);
    expect(sdk.PrismError).toBe(PrismError);
    expect(sdk.Code).toBe(Code);
    expect(typeof sdk.serve).toBe("function");
    expect(typeof sdk.keyValueBasic).toBe("object");
    expect(typeof sdk.AsyncQueue).toBe("function");
  });
});
