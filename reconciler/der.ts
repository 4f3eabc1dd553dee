/**
 * The little DER (X.690) a certificate needs, written and read: the encoders build X.509 structures from parts, the
 * reader walks a certificate to the elements an issuer copies (its subject name, its key identifier). Only definite
 * lengths and single-byte tags: all DER has.
 */

/** Universal and context tags used by X.509. */
export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  utcTime: 0x17,
  generalizedTime: 0x18,
} as const;

/** One element: a tag and its contents. */
export function element(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  let header: Buffer;
  if (n < 0x80) header = Buffer.from([tag, n]);
  else {
    const size: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) size.unshift(rest % 256);
    header = Buffer.from([tag, 0x80 | size.length, ...size]);
  }
  return Buffer.concat([header, body]);
}

export const sequence = (...items: Buffer[]): Buffer => element(TAG.sequence, ...items);
export const set = (...items: Buffer[]): Buffer => element(TAG.set, ...items);
export const octetString = (bytes: Buffer): Buffer => element(TAG.octetString, bytes);
export const utf8String = (text: string): Buffer => element(TAG.utf8String, Buffer.from(text, 'utf8'));
export const boolean = (value: boolean): Buffer => element(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
/** An explicitly tagged element, context class, constructed (`[n] EXPLICIT`). */
export const explicit = (n: number, inner: Buffer): Buffer => element(0xa0 | n, inner);
/** An implicitly tagged primitive, context class (`[n] IMPLICIT`, e.g. a dNSName). */
export const implicit = (n: number, bytes: Buffer): Buffer => element(0x80 | n, bytes);

/** A non-negative INTEGER from its big-endian bytes (minimal: no leading zeros but one that keeps it positive). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const b = bytes.subarray(start);
  return element(TAG.integer, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** A small INTEGER (a version, a path length): 0 to 127, one byte. */
export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 127) throw new RangeError(`DER: ${n} is not a small integer (0-127)`);
  return element(TAG.integer, Buffer.from([n]));
}

/** A BIT STRING of whole bytes (a key, a signature). */
export const bitString = (bytes: Buffer): Buffer => element(TAG.bitString, Buffer.from([0]), bytes);

/** A named-bit BIT STRING (keyUsage): bit 0 is the first byte's high bit; trailing zero bits are left out, as DER wants. */
export function namedBits(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return element(TAG.bitString, Buffer.from([7 - (highest & 7)]), bytes);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) base128.unshift(0x80 | (rest & 0x7f));
    out.push(...base128);
  }
  return element(TAG.oid, Buffer.from(out));
}

/** An X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5), whole seconds, UTC. */
export function time(date: Date): Buffer {
  const digits = date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:T]/g, '');
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? element(TAG.utcTime, Buffer.from(digits.slice(2), 'ascii'))
    : element(TAG.generalizedTime, Buffer.from(digits, 'ascii'));
}

/** An element read from DER: its tag, its whole encoding and its contents (both views of the input). */
export interface DerElement {
  readonly tag: number;
  readonly encoded: Buffer;
  readonly contents: Buffer;
}

/** The element at `offset` of `der`. Throws on what is not DER this reader understands. */
export function readElement(der: Buffer, offset = 0): DerElement {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new Error(`DER: truncated at byte ${offset}`);
  if ((tag & 0x1f) === 0x1f) throw new Error(`DER: multi-byte tag at byte ${offset}`);
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error(`DER: unsupported length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? NaN);
    header += count;
  }
  const end = offset + header + length;
  if (!(end <= der.length)) throw new Error(`DER: element at byte ${offset} runs past the end`);
  return { tag, encoded: der.subarray(offset, end), contents: der.subarray(offset + header, end) };
}

/** The elements inside a constructed element, in order. */
export function children(parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let offset = 0; offset < parent.contents.length;) {
    const child = readElement(parent.contents, offset);
    out.push(child);
    offset += child.encoded.length;
  }
  return out;
}
