import { describe, expect, it } from 'vitest';
import { sipHash24, writeHex } from './siphash.js';

/** SipHash-2-4 of bytes 0..n-1 under the key 00 01 .. 0f, as 16 hex digits in output byte order. */
function reference(length: number): string {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const data = Uint8Array.from({ length }, (_, i) => i);
  const result = new Uint32Array(2);
  sipHash24(key, data, 0, length, result);
  const out = Buffer.alloc(16);
  writeHex(result, 16, out, 0);
  return out.toString('latin1');
}

describe('sipHash24', () => {
  // The reference implementation's test vectors (vectors.h of github.com/veorq/SipHash), every length class: empty,
  // shorter than a word, one word, a word and a tail, many words.
  it.each([
    [0, '310e0edd47db6f72'],
    [1, 'fd67dc93c539f874'],
    [7, '37d1018bf50002ab'],
    [8, '6224939a79f5f593'],
    [15, 'e545be4961ca29a1'],
    [63, '724506eb4c328a95'],
  ])('matches the reference for %i bytes', (length, hex) => {
    expect(reference(length)).toBe(hex);
  });

  it('hashes the range it is given, and writes only the digits asked for', () => {
    const key = Buffer.alloc(16, 9);
    const result = new Uint32Array(2);
    const padded = Buffer.from('xx10.0.0.1yy');
    sipHash24(key, padded, 2, 10, result);
    const alone = new Uint32Array(2);
    sipHash24(key, Buffer.from('10.0.0.1'), 0, 8, alone);
    expect([...result]).toEqual([...alone]);
    const out = Buffer.from('..........');
    expect(writeHex(result, 8, out, 1)).toBe(8);
    expect(out.toString()).toMatch(/^\.[0-9a-f]{8}\.$/);
  });
});
