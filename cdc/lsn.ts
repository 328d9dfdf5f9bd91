/** A PostgreSQL WAL position ("X/Y", two 32-bit hex halves) as one 64-bit number, so positions compare and subtract. */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`not an LSN: "${text}" (expected X/Y in hex, e.g. 0/16B3748)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Where a change stands in the order of capture: its transaction's commit LSN, then its place in the transaction.
 * Changes of one transaction share the LSN; a transaction's commit orders it among the others.
 */
export interface ChangePosition {
  readonly lsn: Lsn;
  readonly position: number;
}

/** Negative when a comes first, 0 when they are the same change. */
export function comparePositions(a: ChangePosition, b: ChangePosition): number {
  if (a.lsn !== b.lsn) return a.lsn < b.lsn ? -1 : 1;
  return a.position - b.position;
}

export const START: ChangePosition = { lsn: 0n, position: 0 };
