import { describe, expect, it } from 'vitest';
import { parseReportKey, reportKey } from './report-key.js';

describe('report keys', () => {
  it('round-trips a report\'s namespace and name', () => {
    const key = reportKey({ metadata: { namespace: 'team-a', name: 'r.1' } });
    expect(key).toBe('team-a/r.1');
    expect(parseReportKey(key)).toEqual({ namespace: 'team-a', name: 'r.1', key: 'team-a/r.1' });
  });

  it.each(['', 'no-slash', '/name', 'namespace/', 'a/b/c'])('refuses %j', (text) => {
    expect(parseReportKey(text)).toBeUndefined();
  });
});
