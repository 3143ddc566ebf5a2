import { stampFromString, stampToString } from './clock.js';
import type { Version } from './types.js';

/**
 * The total order of writes (Sync Precedence): precedence first, the stamp breaks ties, the node id
 * breaks exact ties (code-unit order). Every replica decides the same way.
 * Returns a negative number, zero or a positive number like a sort comparator.
 */
export function compareVersions(a: Version, b: Version): number {
  if (a.p !== b.p) return a.p - b.p;
  if (a.s !== b.s) return a.s < b.s ? -1 : 1;
  return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

/** Stored form of a version inside a replica's JSON columns: `[p, stampHex, node]`. */
export type StoredVersion = [number, string, string];

export function storeVersion(v: Version): StoredVersion {
  return [v.p, stampToString(v.s), v.n];
}

export function loadVersion(v: StoredVersion): Version {
  return { p: v[0], s: stampFromString(v[1]), n: v[2] };
}

/** {@link compareVersions} on stored versions, without converting stamps (fixed-width hex sorts like the stamp). */
export function compareStored(a: StoredVersion, b: StoredVersion): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}
