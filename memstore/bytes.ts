/**
 * A value the store can keep: the array itself when it owns its whole buffer,
 * otherwise a copy. Values decoded from gRPC are views into the request buffer
 * (or into Node's shared 8 KiB pool), and keeping a view would pin that whole
 * buffer for as long as the key lives.
 */
export function ownedBytes(value: Uint8Array): Uint8Array {
  return value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice();
}
