import { describe, expect, it } from 'vitest';
import { Redactor } from './redact.js';
import { parseRedactKinds, REDACT_KINDS, type RedactKind } from '../constructs/pod-contract.js';

const KEY = Buffer.alloc(64, 7);
const all = () => new Redactor(REDACT_KINDS, KEY);
const TOKEN = /x-(?:ipv4|ipv6|mac|secret)-[0-9a-f]{8}-x/g;

/** The text redacted by a fresh redactor of every kind, with the counts. */
function redact(text: string, kinds: readonly RedactKind[] = REDACT_KINDS, whole = true): { out: string; counts: Record<string, number> } {
  const redactor = new Redactor(kinds, KEY);
  return { out: redactor.redactText(text, whole), counts: { ...redactor.counts } };
}

describe('Redactor: addresses', () => {
  it.each([
    ['an IPv4 address', 'connect to 10.0.0.12 now', 'connect to x-ipv4-'],
    ['an IPv4 address with a port', 'dial tcp 172.30.0.1:443: refused', 'dial tcp x-ipv4-'],
    ['an IPv4 address in a CIDR', 'podCIDR: 10.128.0.0/14', 'podCIDR: x-ipv4-'],
    ['an IPv4 address after =', 'ip=192.168.1.254,', 'ip=x-ipv4-'],
    ['an IPv4 address in brackets and quotes', '["10.1.2.3"]', '["x-ipv4-'],
    ['a full IPv6 address', 'from 2001:0db8:0000:0000:0000:ff00:0042:8329 ok', 'from x-ipv6-'],
    ['a compressed IPv6 address', 'bind [fd00::1]:6443', 'bind [x-ipv6-'],
    ['a link-local IPv6 address with a zone', 'via fe80::1ff:fe23:4567:890a%eth0', 'via x-ipv6-'],
    ['an IPv6 address ending in IPv4', 'mapped ::ffff:10.0.0.1 here', 'mapped x-ipv6-'],
    ['a MAC address', 'link/ether 52:54:00:ab:cd:ef brd', 'link/ether x-mac-'],
    ['a MAC address with dashes', 'hw 52-54-00-AB-CD-EF', 'hw x-mac-'],
  ])('replaces %s', (_what, text, prefix) => {
    const { out } = redact(text);
    expect(out.startsWith(prefix)).toBe(true);
    expect(out.match(TOKEN)).toHaveLength(1);
  });

  it.each([
    ['a version with more parts', 'openshift 4.18.0.1.2 released'],
    ['a word glued to an address', 'build v1.2.3.4'],
    ['octets over 255', 'not 10.0.0.256 nor 300.1.1.1'],
    ['a time of day', '2024-05-01T12:34:56.789Z took 12:34'],
    ['a C++ scope', 'std::string and Foo::Bar'],
    ['a hex id with dashes', 'uid 3f9a0c12-de45-4a1b-9c2d-0123456789ab'],
    ['seven hex pairs', 'id 01:02:03:04:05:06:07 end'],
    ['a sha256 digest', 'sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9'],
  ])('leaves %s alone', (_what, text) => {
    expect(redact(text).out).toBe(text);
  });

  it('gives one value one token everywhere, and the same address in other spellings too', () => {
    const redactor = all();
    const first = redactor.redactText('a 10.0.0.1 b fd00::1 c 52:54:00:ab:cd:ef', true);
    const second = redactor.redactText('10.0.0.1:80 FD00:0:0:0:0:0:0:1 52-54-00-AB-CD-EF', true);
    const tokens = (text: string) => text.match(TOKEN)!;
    expect(tokens(second)).toEqual(tokens(first));
    expect(new Set(tokens(first)).size).toBe(3);
    expect(redactor.counts).toEqual({ secrets: 0, ipAddresses: 4, macAddresses: 2 });
  });

  it('keys tokens by the redactor\'s own random key: another report gets other tokens', () => {
    const text = 'node 10.0.0.1';
    expect(new Redactor(['ipAddresses']).redactText(text, true)).not.toBe(new Redactor(['ipAddresses']).redactText(text, true));
  });

  it('redacts only the kinds asked for', () => {
    const text = '10.0.0.1 52:54:00:ab:cd:ef fd00::2';
    expect(redact(text, ['macAddresses']).out).toMatch(/^10\.0\.0\.1 x-mac-[0-9a-f]{8}-x fd00::2$/);
    expect(redact(text, ['ipAddresses']).out).toMatch(/^x-ipv4-\S+ 52:54:00:ab:cd:ef x-ipv6-\S+$/);
    expect(redact(text, ['secrets']).out).toBe(text);
  });

  it('leaves bytes that are not ASCII as they are (UTF-8 or not)', () => {
    const redactor = all();
    const content = Buffer.concat([Buffer.from('é 10.0.0.1 😀 ', 'utf8'), Buffer.from([0xff, 0xfe, 0x20])]);
    const out = redactor.redact(content, true);
    expect(out.subarray(0, 3).toString('utf8')).toBe('é ');
    expect(out.toString('utf8')).toMatch(/^é x-ipv4-[0-9a-f]{8}-x 😀 /);
    expect([...out.subarray(-3)]).toEqual([0xff, 0xfe, 0x20]);
    expect(redactor.redactString('réseau 10.0.0.1 ✓')).toMatch(/^réseau x-ipv4-[0-9a-f]{8}-x ✓$/);
  });

  it('returns the same buffer when there is nothing to replace', () => {
    const content = Buffer.from('nothing to see: 12:00:00 here\n');
    expect(all().redact(content, true)).toBe(content);
  });

  it('counts redactString only when asked to', () => {
    const redactor = all();
    redactor.redactString('10.0.0.1');
    expect(redactor.counts.ipAddresses).toBe(0);
    redactor.redactString('10.0.0.1', { count: true });
    expect(redactor.counts.ipAddresses).toBe(1);
  });
});

describe('Redactor: secrets', () => {
  const SECRETS_YAML = [
    'apiVersion: v1',
    'items:',
    '- apiVersion: v1',
    '  data:',
    '    password: c3VwZXJzZWNyZXQ=',
    '    tls.key: |',
    '      LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t',
    '      bW9yZQ==',
    '  kind: Secret',
    '  metadata:',
    '    name: db',
    '  stringData:',
    '    "user name": admin',
    '  type: Opaque',
    '- apiVersion: v1',
    '  data:',
    '    config.yaml: keep-me',
    '  kind: ConfigMap',
    '  metadata:',
    '    name: settings',
    'kind: List',
    '',
  ].join('\n');

  it('replaces the values of a Secret\'s data and stringData in YAML lists, keeps keys and other objects', () => {
    const { out, counts } = redact(SECRETS_YAML, ['secrets']);
    for (const value of ['c3VwZXJzZWNyZXQ=', 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t', 'bW9yZQ==', 'admin']) expect(out).not.toContain(value);
    expect(out).toMatch(/\n {4}password: x-secret-[0-9a-f]{8}-x\n {4}tls\.key: x-secret-[0-9a-f]{8}-x\n {2}kind: Secret\n/);
    expect(out).toMatch(/\n {4}"user name": x-secret-[0-9a-f]{8}-x\n/);
    expect(out).toContain('config.yaml: keep-me');
    expect(counts.secrets).toBe(3);
  });

  it('finds a Secret whose kind comes first, in a document of its own', () => {
    const yaml = '---\nkind: Secret\napiVersion: v1\nmetadata:\n  name: a\ndata:\n  key: dmFsdWU=\n---\nkind: ConfigMap\ndata:\n  key: plain\n';
    const { out } = redact(yaml, ['secrets']);
    expect(out).not.toContain('dmFsdWU=');
    expect(out).toContain('key: plain');
  });

  it('replaces a Secret\'s values in a whole JSON file, and in a JSON object on one line (last-applied-configuration)', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Secret', data: { token: 'dG9rZW4=' }, metadata: { name: 's', annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ kind: 'Secret', data: { token: 'dG9rZW4=' } }),
      } } },
      { apiVersion: 'v1', kind: 'ConfigMap', data: { token: 'not-a-secret' } },
    ] }, null, 4);
    const { out } = redact(json, ['secrets']);
    expect(out).not.toContain('dG9rZW4=');
    const parsed = JSON.parse(out);
    expect(parsed.items[0].data.token).toMatch(/^x-secret-[0-9a-f]{8}-x$/);
    expect(JSON.parse(parsed.items[0].metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).data.token).toBe(parsed.items[0].data.token);
    expect(out.split('\n')[1]).toMatch(/^ {4}"/); // the file's own indentation

    const line = '  kubectl.kubernetes.io/last-applied-configuration: {"apiVersion":"v1","data":{"password":"aHVudGVyMg=="},"kind":"Secret"}\n';
    expect(redact(line, ['secrets'], false).out).toMatch(/^ {2}kubectl\.kubernetes\.io\/last-applied-configuration: \{"apiVersion":"v1","data":\{"password":"x-secret-[0-9a-f]{8}-x"\},"kind":"Secret"\}\n$/);
  });

  it('replaces the body of PEM private keys, in text and in JSON strings, and keeps certificates', () => {
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n';
    const { out } = redact(pem, ['secrets']);
    expect(out).toMatch(/^-----BEGIN EC PRIVATE KEY-----\nx-secret-[0-9a-f]{8}-x\n-----END EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMIIBcert\n/);
    const escaped = '{"key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n"}';
    expect(redact(escaped, ['secrets']).out).not.toContain('MIIEvQ');
  });

  it('replaces kubeconfig and auth credentials in YAML and JSON, wherever they appear', () => {
    const kubeconfig = 'users:\n- name: admin\n  user:\n    client-key-data: QUJD\n    token: sha256~abc\n    password: "hunter2"\n    username: admin\n';
    const { out, counts } = redact(kubeconfig, ['secrets']);
    expect(out).not.toMatch(/QUJD|sha256~abc|hunter2/);
    expect(out).toContain('username: admin');
    expect(counts.secrets).toBe(3);
    const json = '{"auth-provider": {"config": {"id-token": "eyJhbGci", "refresh-token": "r1"}}, "token": ""}';
    expect(redact(json, ['secrets']).out).not.toMatch(/eyJhbGci|"r1"/);
  });

  it('does not redact a token twice', () => {
    const redactor = new Redactor(['secrets'], KEY);
    const once = redactor.redactText('token: abc\n', true);
    expect(redactor.redactText(once, true)).toBe(once);
  });
});

describe('Redactor: large files in pieces', () => {
  it('says when a piece may hold part of a Secret object', () => {
    const redactor = all();
    const piece = (text: string) => Buffer.from(text);
    expect(redactor.mayHoldSecretObject(piece('a: b\nkind: Secret\n'))).toBe(true);
    expect(redactor.mayHoldSecretObject(piece('{\n  "kind": "Secret",\n'))).toBe(true);
    expect(redactor.mayHoldSecretObject(piece('{"kind":"Secret","data":{"a":"b"}}\n'))).toBe(false); // redacted by the line rule
    expect(redactor.mayHoldSecretObject(piece('I1201 updated Secret openshift-config/pull-secret\n'))).toBe(false);
    expect(new Redactor(['ipAddresses']).mayHoldSecretObject(piece('kind: Secret\n'))).toBe(false);
  });

  it('cuts before an unfinished private key', () => {
    const redactor = all();
    expect(redactor.safeCut(Buffer.from('log line\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n'))).toBe('log line\n'.length);
    const whole = Buffer.from('a\n-----BEGIN RSA PRIVATE KEY-----\nb\n-----END RSA PRIVATE KEY-----\n');
    expect(redactor.safeCut(whole)).toBe(whole.length);
  });
});

describe('parseRedactKinds', () => {
  it('reads the --redact list and names an unknown kind', () => {
    expect(parseRedactKinds('secrets,macAddresses')).toEqual(['secrets', 'macAddresses']);
    expect(() => parseRedactKinds('secrets,emails')).toThrow('unknown redaction "emails" (known: secrets, ipAddresses, macAddresses)');
  });
});
