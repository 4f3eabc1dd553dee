import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { checkFreeRange, nthAddress, overlaps, parseCidr } from './host.js';

describe('pod and Service ranges', () => {
  it('parses network addresses and refuses what is not one, with the fix in the message', () => {
    expect(parseCidr('10.244.250.0/24')).toMatchObject({ prefix: 24 });
    expect(nthAddress(parseCidr('10.96.0.0/16'), 1)).toBe('10.96.0.1');
    expect(() => parseCidr('10.244.250.7/24')).toThrow('10.244.250.7 is not the network address of a /24 (try 10.244.250.0/24)');
    expect(() => parseCidr('10.244.250.0')).toThrow('is not an IPv4 CIDR');
    expect(() => parseCidr('300.1.1.0/24')).toThrow('"300.1.1.0" is not an IPv4 address');
    expect(() => parseCidr('10.0.0.0/4')).toThrow('between /8 and /29');
  });

  it('tells overlapping ranges apart', () => {
    expect(overlaps(parseCidr('10.96.0.0/16'), parseCidr('10.96.200.0/24'))).toBe(true);
    expect(overlaps(parseCidr('10.96.0.0/16'), parseCidr('10.97.0.0/16'))).toBe(false);
  });

  it.runIf(process.platform === 'linux')('refuses a range that overlaps a route of this machine, naming the route', async () => {
    const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show'], { encoding: 'utf8' })) as { dst: string; dev: string }[];
    const taken = routes.find((r) => r.dst !== 'default' && r.dst.includes('/'));
    if (!taken) throw new Error('this machine has no IPv4 route with a prefix to test against');
    const [ip, prefix] = taken.dst.split('/');
    await expect(checkFreeRange('pod range', parseCidr(`${ip}/${prefix}`), 'mustgather0')).rejects.toThrow(
      `the pod range ${ip}/${prefix} overlaps the host's route to ${taken.dst} (dev ${taken.dev}): choose another range`,
    );
    await expect(checkFreeRange('pod range', parseCidr('10.244.250.0/24'), 'mustgather0')).resolves.toBeUndefined();
  });
});
