/**
 * Consistent hashing with virtual nodes: each shard owns `virtualNodes` points on a 32-bit circle and a key
 * belongs to the first point at or after the key's hash. Adding or removing one of N shards moves only the keys
 * of the points it gains or loses, about 1/N of them.
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: string[];

  constructor(
    readonly members: readonly string[],
    readonly virtualNodes = 160,
  ) {
    if (virtualNodes < 1) throw new Error("virtualNodes must be at least 1");
    if (new Set(members).size !== members.length) throw new Error(`shard names must be unique: ${members.join(", ")}`);
    const placed: { point: number; owner: string }[] = [];
    for (const m of members) for (let i = 0; i < virtualNodes; i++) placed.push({ point: hash32(`${m}#${i}`), owner: m });
    // Ties (two points on the same position) go to the smaller name, so every instance builds the same ring.
    placed.sort((a, b) => a.point - b.point || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
    this.points = Uint32Array.from(placed.map((p) => p.point));
    this.owners = placed.map((p) => p.owner);
  }

  /** The shard that owns `key`; undefined on an empty ring. */
  owner(key: string): string | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo];
  }

  has(member: string): boolean {
    return this.members.includes(member);
  }
}

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer so that nearby strings land far apart. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
