import type { Tags } from "../../proto/gen/prism/common/types_pb";
import type { KeyValueCapabilities } from "../emulation/capabilities";
import { unimplemented } from "../errors";

/**
 * The tags of a write, or undefined when it carries none. Tags are refused rather than dropped: where the backend
 * does not store them (Capabilities.supports_tags false), a write carrying any is UNIMPLEMENTED and writes nothing.
 */
export function checkTags(tags: Tags | undefined, caps: KeyValueCapabilities | undefined, what = "tags"): Record<string, string> | undefined {
  if (tags === undefined || Object.keys(tags.tags).length === 0) return undefined;
  if (caps?.tags) return tags.tags;
  throw unimplemented(
    `${what} not supported by ${caps?.backend ?? "this backend"}: ${caps?.tags === false ? "values are stored without tags" : "it has no key-value"}`,
  );
}
