import { describe, expect, it } from 'vitest';
import { packJson, unpackJson } from './packed-json.js';

describe('packed JSON', () => {
  it('gives back an equal, fresh copy, non-ASCII text included', () => {
    const value = { metadata: { name: 'r', labels: { a: 'b' } }, data: { text: 'grüße, 日本' }, list: [1, null, true] };
    const packed = packJson(value);
    const back = unpackJson(packed);
    expect(back).toEqual(value);
    expect(back).not.toBe(value);
  });

  it('holds repetitive JSON in a fraction of its text', () => {
    const chart = Array.from({ length: 20 }, (_, i) => ({ kind: 'Secret', metadata: { name: `s-${i}`, labels: { 'app.kubernetes.io/name': 'must-gather-report' } } }));
    expect(packJson(chart).length).toBeLessThan(JSON.stringify(chart).length / 4);
  });
});
