/**
 * Prism keys are any non-empty string; NATS KV keys are `[-/=._a-zA-Z0-9]+` (dots separate subject tokens, so no
 * leading, trailing or doubled dot). Each Prism key is mapped reversibly onto one token: the UTF-8 bytes of
 * A-Z a-z 0-9 `-` `_` `/` stay as they are (readable keys stay readable), every other byte becomes `=XX` (upper-case
 * hex; `=` itself included). The mapping works byte by byte, so it keeps prefixes: a key starts with a prefix
 * exactly when its encoding starts with the prefix's encoding, and prefix listings filter on encoded text.
 * The namespace is encoded the same way and put in front as a token of its own: `<namespace>.<key>`.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const HEX = "0123456789ABCDEF";

function plain(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x5f || b === 0x2f;
}

export function encodeToken(s: string): string {
  let out = "";
  for (const b of encoder.encode(s)) out += plain(b) ? String.fromCharCode(b) : `=${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

/** The inverse of encodeToken; undefined for text encodeToken cannot produce (a key written by something else). */
export function decodeToken(t: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x3d) {
      const hex = t.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      const b = parseInt(hex, 16);
      if (plain(b)) return undefined; // not canonical: a plain byte is never escaped
      bytes.push(b);
      i += 2;
    } else if (plain(c)) bytes.push(c);
    else return undefined;
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/** Keys of one namespace inside a bucket. */
export class KvKeys {
  readonly namespaceToken: string;

  constructor(namespace: string) {
    this.namespaceToken = encodeToken(namespace);
  }

  /** The NATS key of a Prism key. */
  natsKey(key: string): string {
    return `${this.namespaceToken}.${encodeToken(key)}`;
  }

  /** The subject filter of every key of this namespace. */
  get filter(): string {
    return `${this.namespaceToken}.*`;
  }

  /** The Prism key of a NATS key of this namespace, or undefined for a key that is not one of ours. */
  prismKey(natsKey: string): string | undefined {
    const head = `${this.namespaceToken}.`;
    if (!natsKey.startsWith(head)) return undefined;
    return decodeToken(natsKey.slice(head.length));
  }
}
