/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed pseudorandom function for short inputs, with a 128-bit key and
 * a 64-bit result. Redaction derives its tokens from it: HMAC-SHA256 through node:crypto costs about 3 us per value
 * (an object per call), this about 0.1 us, and a must-gather log can hold an address every 150 bytes. The 64-bit words
 * are kept as pairs of 32-bit halves (JavaScript has no fast 64-bit integers).
 */

/**
 * The hash of `data[start..end)` under `key` (16 bytes), into `result`: the low 32 bits at 0, the high at 1 (read as
 * bytes, little-endian, as the reference implementation writes them: result[0]'s four bytes come first).
 */
export function sipHash24(key: Uint8Array, data: Uint8Array, start: number, end: number, result: Uint32Array): void {
  const k0l = word(key, 0);
  const k0h = word(key, 4);
  const k1l = word(key, 8);
  const k1h = word(key, 12);
  // v0..v3 = key ^ "somepseudorandomlygeneratedbytes", each as high (h) and low (l) halves, in locals: an array or a
  // function per step made it ten times slower.
  let v0h = k0h ^ 0x736f6d65, v0l = k0l ^ 0x70736575;
  let v1h = k1h ^ 0x646f7261, v1l = k1l ^ 0x6e646f6d;
  let v2h = k0h ^ 0x6c796765, v2l = k0l ^ 0x6e657261;
  let v3h = k1h ^ 0x74656462, v3l = k1l ^ 0x79746573;
  const length = end - start;
  // Every 8 bytes a message word (the last one: the remaining bytes, the length's low byte on top), each compressed
  // with 2 rounds; then 4 rounds to finish.
  const words = (length >> 3) + 1;
  let mh = 0;
  let ml = 0;
  for (let step = 0, total = words * 2 + 4; step < total; step++) {
    if (step < words * 2 && step % 2 === 0) {
      const at = start + step * 4;
      if (at + 8 <= end) {
        ml = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24);
        mh = data[at + 4]! | (data[at + 5]! << 8) | (data[at + 6]! << 16) | (data[at + 7]! << 24);
      } else {
        ml = 0;
        mh = (length & 0xff) << 24;
        for (let i = at; i < end; i++) {
          if (i - at < 4) ml |= data[i]! << ((i - at) * 8);
          else mh |= data[i]! << ((i - at - 4) * 8);
        }
      }
      v3h ^= mh;
      v3l ^= ml;
    }
    if (step === words * 2) v2l ^= 0xff;
    // SipRound. v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
    let low = (v0l + v1l) | 0;
    v0h = (v0h + v1h + ((low >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
    v0l = low;
    let t = v1h;
    v1h = ((v1h << 13) | (v1l >>> 19)) ^ v0h;
    v1l = ((v1l << 13) | (t >>> 19)) ^ v0l;
    t = v0h; v0h = v0l; v0l = t;
    // v2 += v3; v3 = rotl(v3, 16) ^ v2
    low = (v2l + v3l) | 0;
    v2h = (v2h + v3h + ((low >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
    v2l = low;
    t = v3h;
    v3h = ((v3h << 16) | (v3l >>> 16)) ^ v2h;
    v3l = ((v3l << 16) | (t >>> 16)) ^ v2l;
    // v0 += v3; v3 = rotl(v3, 21) ^ v0
    low = (v0l + v3l) | 0;
    v0h = (v0h + v3h + ((low >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
    v0l = low;
    t = v3h;
    v3h = ((v3h << 21) | (v3l >>> 11)) ^ v0h;
    v3l = ((v3l << 21) | (t >>> 11)) ^ v0l;
    // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
    low = (v2l + v1l) | 0;
    v2h = (v2h + v1h + ((low >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
    v2l = low;
    t = v1h;
    v1h = ((v1h << 17) | (v1l >>> 15)) ^ v2h;
    v1l = ((v1l << 17) | (t >>> 15)) ^ v2l;
    t = v2h; v2h = v2l; v2l = t;
    if (step < words * 2 && step % 2 === 1) {
      v0h ^= mh;
      v0l ^= ml;
    }
  }
  result[0] = v0l ^ v1l ^ v2l ^ v3l;
  result[1] = v0h ^ v1h ^ v2h ^ v3h;
}

/** The little-endian 32-bit word of `bytes` at `at`. */
function word(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
}

/** Each byte's two hex digits. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => [...b.toString(16).padStart(2, '0')].map((c) => c.charCodeAt(0)) as [number, number]);

/**
 * The first `digits` hex digits (even, at most 16) of a {@link sipHash24} result, in the reference byte order, written
 * into `target` at `at`; returns the number written.
 */
export function writeHex(result: Uint32Array, digits: number, target: Uint8Array, at: number): number {
  for (let i = 0; i < digits; i += 2) {
    const pair = HEX_PAIRS[(result[i >> 3]! >>> ((i & 6) * 4)) & 0xff]!;
    target[at + i] = pair[0];
    target[at + i + 1] = pair[1];
  }
  return digits;
}
