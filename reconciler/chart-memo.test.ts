import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../kube/client.js';
import { canonicalJson, ChartMemo } from './chart-memo.js';

const configMap = (data: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n' }, data: { data } } as KubeObject);

/** A memo and a renderer that counts its calls. */
function counted() {
  const memo = new ChartMemo();
  let renders = 0;
  const chart = (key: string, inputs: unknown) => memo.chart(key, inputs, () => [configMap(`render ${++renders}`)]);
  return { memo, chart, renders: () => renders };
}

describe('canonicalJson', () => {
  it('gives the same text whatever order the keys were built in, at every depth', () => {
    const built = { version: '4.20.1', id: 'abc', nodes: { total: 3, notReady: ['b: NotReady'] } };
    const stored = { id: 'abc', nodes: { notReady: ['b: NotReady'], total: 3 }, version: '4.20.1' };
    expect(canonicalJson(built)).toBe(canonicalJson(stored));
    expect(canonicalJson(built)).toBe('{"id":"abc","nodes":{"notReady":["b: NotReady"],"total":3},"version":"4.20.1"}');
  });

  it('keeps the order of arrays and tells values apart', () => {
    expect(canonicalJson(['b', 'a'])).not.toBe(canonicalJson(['a', 'b']));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}'); // as JSON.stringify: undefined is absent
  });
});

describe('ChartMemo', () => {
  it('renders once for the same inputs, also when they come back from the API server with their keys sorted', () => {
    const { chart, renders } = counted();
    const first = chart('ns/r', { spec: { images: ['a'] }, cluster: { version: 'v1.36.3', id: 'x' } });
    const again = chart('ns/r', { cluster: { id: 'x', version: 'v1.36.3' }, spec: { images: ['a'] } });
    expect(renders()).toBe(1);
    expect(again).toEqual(first);
    expect(again).not.toBe(first); // a fresh copy: the caller may change what it gets
  });

  it('renders again when an input changes, and keeps each report apart', () => {
    const { chart, renders } = counted();
    chart('ns/r', { images: ['a'] });
    expect(chart('ns/r', { images: ['a', 'b'] })[0]!.data).toEqual({ data: 'render 2' });
    expect(chart('ns/other', { images: ['a', 'b'] })[0]!.data).toEqual({ data: 'render 3' });
    expect(chart('ns/r', { images: ['a', 'b'] })[0]!.data).toEqual({ data: 'render 2' });
    expect(renders()).toBe(3);
  });

  it('forgets a report', () => {
    const { memo, chart, renders } = counted();
    chart('ns/r', { images: ['a'] });
    memo.forget('ns/r');
    chart('ns/r', { images: ['a'] });
    expect(renders()).toBe(2);
  });
});
