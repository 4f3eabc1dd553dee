import { describe, expect, it } from 'vitest';
import { IMAGE_FORMAT_MESSAGE, type MustGatherReport } from '../../constructs/report-api.js';
import { UsageError } from '../usage.js';
import { GatherProgress, specFromFlags, splitCommand } from './gather.js';

describe('gather flags -> spec', () => {
  it('maps every flag to its spec field, and no flags to an empty spec (the operator\'s defaults)', () => {
    expect(specFromFlags({}, [])).toEqual({});
    expect(specFromFlags({
      image: ['quay.io/a/mg:v1', 'quay.io/b/mg@sha256:' + 'a'.repeat(64)], 'all-images': true, 'image-stream': ['openshift/must-gather:latest'],
      since: '2h', timeout: '5m', 'node-name': 'node-1.example', 'delete-after': '1h',
    }, ['/bin/bash', '-c', 'gather; echo done'])).toEqual({
      images: ['quay.io/a/mg:v1', 'quay.io/b/mg@sha256:' + 'a'.repeat(64)], allImages: true, imageStreams: ['openshift/must-gather:latest'],
      command: ['/bin/bash', '-c', 'gather; echo done'], since: '2h', timeout: '5m', nodeName: 'node-1.example', deleteAfter: '1h',
    });
    expect(specFromFlags({ 'since-time': '2025-01-31T08:00:00Z' }, [])).toEqual({ sinceTime: '2025-01-31T08:00:00Z' });
    expect(specFromFlags({ 'node-selector': 'node-role.kubernetes.io/worker=, zone==a', 'volume-percentage': '50' }, []))
      .toEqual({ nodeSelector: { 'node-role.kubernetes.io/worker': '', zone: 'a' }, volumePercentage: 50 });
    expect(specFromFlags({ redact: 'secrets, macAddresses' }, [])).toEqual({ redact: { secrets: true, macAddresses: true } });
  });

  it.each([
    [{ image: ['quay.io/a/mg:v1', 'NOT AN IMAGE'] }, [], `--image "NOT AN IMAGE": ${IMAGE_FORMAT_MESSAGE}`],
    [{ image: ['quay.io/a/mg:v1', 'quay.io/a/mg:v1'] }, [], '--image: must not list the same image twice'],
    [{ 'image-stream': ['no-tag'] }, [], /^--image-stream "no-tag": must be an image stream tag namespace\/name:tag/],
    [{ since: '2 hours' }, [], /^--since: must be a duration such as 30s/],
    [{ timeout: '5s' }, [], '--timeout: must be between 10s and 24h'],
    [{ 'delete-after': '1000h' }, [], '--delete-after: must be between 1m and 720h'],
    [{ 'since-time': 'yesterday' }, [], /^--since-time: must be an RFC 3339 timestamp/],
    [{ 'node-name': 'Node_1' }, [], /^--node-name: must be a node name/],
    [{ 'node-selector': 'role' }, [], /^--node-selector: "role" is not key=value/],
    [{ 'node-selector': 'zone=a/b' }, [], /^--node-selector: must be a label value/],
    [{ 'volume-percentage': '0' }, [], /^--volume-percentage: must be between 1 and 100/],
    [{ 'volume-percentage': 'lots' }, [], /^--volume-percentage: must be a whole number/],
    [{}, [''], '-- CMD: the first element is the program to run and must not be empty'],
    [{ since: '1h', 'since-time': '2025-01-31T08:00:00Z' }, [], '--since and --since-time: are mutually exclusive: set one of them, not both'],
    [{ redact: 'secrets,emails' }, [], '--redact: unknown redaction "emails" (known: secrets, ipAddresses, macAddresses)'],
    [{ redact: ',' }, [], '--redact: name at least one of secrets, ipAddresses, macAddresses'],
  ] as const)('refuses %j %j in one line naming the flag', (flags, command, message) => {
    const call = () => specFromFlags(flags as never, command);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
    try {
      call();
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
      expect((err as Error).message).not.toMatch(/spec\./);
    }
  });

  it('takes everything after the first -- as the command, verbatim', () => {
    expect(splitCommand(['--image', 'x', '--', 'gather', '--', '-n'])).toEqual({ flags: ['--image', 'x'], command: ['gather', '--', '-n'] });
    expect(splitCommand(['--keep'])).toEqual({ flags: ['--keep'], command: [] });
  });
});

describe('GatherProgress', () => {
  const report = (gathers: { state: string; message?: string; exitCode?: number }[]) => ({
    apiVersion: 'mustgather.openshift.io/v1alpha1', kind: 'MustGatherReport', metadata: { name: 'r', namespace: 'n' }, spec: {},
    status: { gathers: gathers.map((g, i) => ({ index: i + 1, image: `quay.io/a/mg${i}:v1`, ...g })) },
  }) as unknown as MustGatherReport;

  it('prints each image once per change of state, with exit code and message when it did not succeed', () => {
    const progress = new GatherProgress();
    expect(progress.lines(report([]))).toEqual([]);
    expect(progress.lines(report([{ state: 'Running' }, { state: 'Pending' }]))).toEqual([
      'image 1/2 quay.io/a/mg0:v1: Running', 'image 2/2 quay.io/a/mg1:v1: Pending',
    ]);
    expect(progress.lines(report([{ state: 'Running' }, { state: 'Pending' }]))).toEqual([]);
    expect(progress.lines(report([{ state: 'Succeeded', exitCode: 0 }, { state: 'Running' }]))).toEqual([
      'image 1/2 quay.io/a/mg0:v1: Succeeded', 'image 2/2 quay.io/a/mg1:v1: Running',
    ]);
    expect(progress.lines(report([{ state: 'Succeeded', exitCode: 0 }, { state: 'Failed', exitCode: 3, message: 'oc: not found' }]))).toEqual([
      'image 2/2 quay.io/a/mg1:v1: Failed (exit code 3): oc: not found',
    ]);
  });
});
