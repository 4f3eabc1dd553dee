import { describe, expect, it } from 'vitest';
import { children, element, namedBits, oid, readElement, sequence, smallInteger, time, TAG, unsignedInteger } from './der.js';

const hex = (b: Buffer) => b.toString('hex');

describe('DER encoders', () => {
  it.each([
    [0, '0400'],
    [127, `047f${'00'.repeat(127)}`],
    [128, `048180${'00'.repeat(128)}`],
    [256, `04820100${'00'.repeat(256)}`],
  ])('encodes a length of %i in its short or long form', (n, expected) => {
    expect(hex(element(TAG.octetString, Buffer.alloc(n)))).toBe(expected);
  });

  it.each([
    ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'], // ecdsa-with-SHA256
    ['2.5.29.17', '0603551d11'], // subjectAltName
    ['1.3.6.1.5.5.7.3.1', '06082b06010505070301'], // serverAuth
  ])('encodes OID %s', (dotted, expected) => {
    expect(hex(oid(dotted))).toBe(expected);
  });

  it('encodes named bits without trailing zero bits', () => {
    expect(hex(namedBits([0]))).toBe('03020780'); // digitalSignature
    expect(hex(namedBits([0, 5, 6]))).toBe('03020186'); // digitalSignature, keyCertSign, cRLSign
    expect(hex(namedBits([8]))).toBe('0303070080');
  });

  it('encodes integers minimally and positive', () => {
    expect(hex(unsignedInteger(Buffer.from('0000017f', 'hex')))).toBe('0202017f');
    expect(hex(unsignedInteger(Buffer.from('80', 'hex')))).toBe('02020080');
    expect(hex(unsignedInteger(Buffer.from('0000', 'hex')))).toBe('020100');
    expect(hex(smallInteger(2))).toBe('020102');
    expect(() => smallInteger(128)).toThrow(/not a small integer/);
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050', () => {
    expect(time(new Date('2049-12-31T23:59:59.999Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
  });
});

describe('DER reader', () => {
  it('reads back what the encoders wrote, long lengths included', () => {
    const big = element(TAG.octetString, Buffer.alloc(300, 7));
    const read = readElement(sequence(oid('2.5.4.3'), big));
    expect(read.tag).toBe(TAG.sequence);
    const [first, second] = children(read);
    expect(hex(first!.encoded)).toBe('0603550403');
    expect(second!.contents.equals(Buffer.alloc(300, 7))).toBe(true);
  });

  it('refuses truncated input', () => {
    expect(() => readElement(Buffer.from('3005020101', 'hex'))).toThrow(/runs past the end/);
    expect(() => readElement(Buffer.from('30', 'hex'))).toThrow(/truncated/);
  });
});
