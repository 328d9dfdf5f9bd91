import { describe, expect, test } from "bun:test";
import { expectAbsent, waitFor } from "./wait";

describe("waitFor", () => {
  test("returns the first truthy value", async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : 0), "n reaches 3", { intervalMs: 1 })).toBe(3);
  });

  test("throws naming what it waited for once the deadline passes", async () => {
    await expect(waitFor(() => false, "never", { timeoutMs: 20, intervalMs: 5 })).rejects.toThrow("timed out after 20 ms waiting until never");
  });
});

describe("expectAbsent", () => {
  // A tiny in-order channel: what is sent before the marker arrives before it.
  function channel() {
    const got: string[] = [];
    return { got, send: (m: string) => queueMicrotask(() => got.push(m)) };
  }

  test("passes when the marker arrives and the unwanted message did not", async () => {
    const ch = channel();
    ch.send("wanted");
    await expectAbsent("a duplicate", {
      sendMarker: () => ch.send("marker"),
      markerArrived: () => ch.got.includes("marker"),
      happened: () => ch.got.filter((m) => m === "wanted").length > 1,
    });
    expect(ch.got).toEqual(["wanted", "marker"]);
  });

  test("fails when the unwanted message came before the marker", async () => {
    const ch = channel();
    ch.send("wanted");
    ch.send("wanted");
    const check = expectAbsent("a duplicate", {
      sendMarker: () => ch.send("marker"),
      markerArrived: () => ch.got.includes("marker"),
      happened: () => ch.got.filter((m) => m === "wanted").length > 1,
    });
    await expect(check).rejects.toThrow("a duplicate happened");
  });

  test("fails when the marker never arrives (a broken path cannot pass)", async () => {
    const check = expectAbsent("anything", { sendMarker: () => {}, markerArrived: () => false, happened: () => false, timeoutMs: 20, intervalMs: 5 });
    await expect(check).rejects.toThrow("waiting until the marker sent after anything arrived");
  });
});
