import type { Tags } from "../../proto/gen/prism/common/types_pb";
import { unimplemented } from "../grpc/errors";

/**
 * Tags are refused rather than dropped: no backend stores them yet (Capabilities.supports_tags is false), so a
 * write carrying any is UNIMPLEMENTED instead of being accepted and losing them.
 */
export function refuseTags(tags: Tags | undefined, backend: string, what = "tags"): void {
  if (tags !== undefined && Object.keys(tags.tags).length > 0) throw unimplemented(`${what} not supported by ${backend}: values are stored without tags`);
}
