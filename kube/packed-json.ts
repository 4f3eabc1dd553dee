/**
 * JSON kept deflated in a one-byte string: how the operator holds many objects it reads a few at a time (the watch
 * caches, the charts it rendered). Several times smaller than the object, and than its text; a one-byte string takes
 * exactly its length in the heap (a small Buffer would pin a pool slab, zlib's answer its 16 KB output chunk).
 * Reading one back costs tens of microseconds, and returns a fresh copy.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** A value of type T, packed by {@link packJson}. */
export type PackedJson<T> = string & { readonly packedJsonOf?: T };

export function packJson<T>(value: T): PackedJson<T> {
  return deflateRawSync(JSON.stringify(value), { level: 1 }).toString('latin1');
}

export function unpackJson<T>(packed: PackedJson<T>): T {
  return JSON.parse(inflateRawSync(Buffer.from(packed, 'latin1')).toString('utf8')) as T;
}
