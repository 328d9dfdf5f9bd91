import { closeSync, openSync, readSync } from "node:fs";

/**
 * Size in bytes of the named section of a 64-bit little-endian ELF file, or
 * undefined when there is none. `bun build --compile` embeds the program in a
 * ".bun" section, so this is the size of what an executable carries on top of
 * the Bun runtime.
 */
export function elfSectionSize(file: string, name: string): number | undefined {
  const fd = openSync(file, "r");
  try {
    const read = (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      readSync(fd, b, 0, len, pos);
      return b;
    };
    const h = read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return undefined; // not ELF64 LE
    const shoff = Number(h.readBigUInt64LE(0x28));
    const shentsize = h.readUInt16LE(0x3a);
    const shnum = h.readUInt16LE(0x3c);
    const shstrndx = h.readUInt16LE(0x3e);
    const sections = read(shoff, shentsize * shnum);
    const strtab = sections.subarray(shstrndx * shentsize);
    const names = read(Number(strtab.readBigUInt64LE(0x18)), Number(strtab.readBigUInt64LE(0x20)));
    for (let i = 0; i < shnum; i++) {
      const s = sections.subarray(i * shentsize);
      const off = s.readUInt32LE(0);
      const end = names.indexOf(0, off);
      if (names.toString("latin1", off, end) === name) return Number(s.readBigUInt64LE(0x20));
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
