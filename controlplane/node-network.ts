/**
 * The local node's pod network: one bridge and one private /24 of the project's own, and iptables chains that keep
 * pods on this machine. Pods reach each other on the bridge (layer 2, no routing) and the API server through the
 * in-cluster address (the `kubernetes` Service's IP, DNAT-ed to the API server on loopback, which needs
 * `route_localnet` on the bridge alone). Everything else from a pod to the host is dropped, which covers kube-proxy's
 * rule against CVE-2020-8558 (etcd and the kubelet's other ports listen on the host without pod-facing auth), and
 * nothing is forwarded off or onto the bridge. The global `ip_forward` is never touched.
 */
import { writeFile } from 'node:fs/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { nthAddress, sh, trySh, type Cidr } from './host.js';

/** iptables chains this project owns: fixed names, since only one local node runs at a time. */
export const CHAINS = {
  dnat: { table: 'nat', name: 'MUSTGATHER-NODE-DNAT', hooks: ['PREROUTING'] },
  input: { table: 'filter', name: 'MUSTGATHER-NODE-INPUT', hooks: ['INPUT'] },
  forward: { table: 'filter', name: 'MUSTGATHER-NODE-FORWARD', hooks: ['FORWARD'] },
} as const;

const COMMENT = 'mustgather local node';

/** What {@link setUpNetwork} needs. */
export interface NetworkSettings {
  /** The bridge's name (15 characters at most). */
  readonly bridge: string;
  /** The pods' range; its first address is the bridge's (the pods' gateway and the node's InternalIP). */
  readonly podCidr: Cidr;
  /** The in-cluster API address (first address of the Service range). */
  readonly apiServiceIp: string;
  /** The API server's port on 127.0.0.1. */
  readonly apiPort: number;
}

/** The bridge's own address: the node IP and the pods' gateway. */
export function bridgeAddress(s: Pick<NetworkSettings, 'podCidr'>): string {
  return nthAddress(s.podCidr, 1);
}

async function iptables(args: string[]): Promise<void> {
  await sh('iptables', ['-w', '5', ...args]);
}

/** Creates the bridge and the chains (after {@link tearDownNetwork} of any leftover). */
export async function setUpNetwork(s: NetworkSettings): Promise<void> {
  const gateway = bridgeAddress(s);
  await sh('ip', ['link', 'add', s.bridge, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${gateway}/${s.podCidr.prefix}`, 'dev', s.bridge]);
  await sh('ip', ['link', 'set', s.bridge, 'up']);
  // Only this interface may carry packets to 127.0.0.0/8 (the DNAT below); the INPUT chain drops all others.
  writeFileSync(`/proc/sys/net/ipv4/conf/${s.bridge}/route_localnet`, '1');
  // No IPv6 on the bridge: pods get none, and nothing should autoconfigure on it.
  if (existsSync(`/proc/sys/net/ipv6/conf/${s.bridge}/disable_ipv6`)) writeFileSync(`/proc/sys/net/ipv6/conf/${s.bridge}/disable_ipv6`, '1');

  for (const c of Object.values(CHAINS)) await iptables(['-t', c.table, '-N', c.name]);
  const dnat = CHAINS.dnat.name;
  await iptables(['-t', 'nat', '-A', dnat, '-d', `${s.apiServiceIp}/32`, '-p', 'tcp', '--dport', '443', '-j', 'DNAT', '--to-destination', `127.0.0.1:${s.apiPort}`]);
  await iptables(['-t', 'nat', '-A', dnat, '-j', 'RETURN']);
  const input = CHAINS.input.name;
  await iptables(['-A', input, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
  await iptables(['-A', input, '-d', '127.0.0.1/32', '-p', 'tcp', '--dport', String(s.apiPort), '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT']);
  await iptables(['-A', input, '-j', 'DROP']);
  const forward = CHAINS.forward.name;
  // Pod to pod stays on the bridge (this rule only matters where br_netfilter passes bridged frames to iptables).
  await iptables(['-A', forward, '-i', s.bridge, '-o', s.bridge, '-j', 'ACCEPT']);
  await iptables(['-A', forward, '-j', 'DROP']);

  await iptables(['-t', 'nat', '-I', 'PREROUTING', '-i', s.bridge, '-m', 'comment', '--comment', COMMENT, '-j', dnat]);
  await iptables(['-I', 'INPUT', '-i', s.bridge, '-m', 'comment', '--comment', COMMENT, '-j', input]);
  await iptables(['-I', 'FORWARD', '-i', s.bridge, '-m', 'comment', '--comment', COMMENT, '-j', forward]);
  await iptables(['-I', 'FORWARD', '-o', s.bridge, '-m', 'comment', '--comment', COMMENT, '-j', forward]);
}

/** The CNI network list for containerd: the bridge plugin on our bridge, host-local addresses from our range. */
export async function writeCniConfig(file: string, s: NetworkSettings, ipamDir: string): Promise<void> {
  const gateway = bridgeAddress(s);
  const config = {
    cniVersion: '1.0.0',
    name: 'mustgather',
    plugins: [
      {
        type: 'bridge',
        bridge: s.bridge,
        // Not a gateway: with isGateway the plugin turns on the global ip_forward. The bridge already has the
        // gateway address (setUpNetwork), and the default route below points at it.
        isGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: s.podCidr.text, gateway, rangeStart: nthAddress(s.podCidr, 2) }]],
          routes: [{ dst: '0.0.0.0/0', gw: gateway }],
          dataDir: ipamDir,
        },
      },
    ],
  };
  await writeFile(file, JSON.stringify(config, null, 2) + '\n');
}

/** Removes the chains, their jump rules and the bridge; idempotent, for leftovers of a killed run too. */
export async function tearDownNetwork(bridge: string): Promise<void> {
  for (const c of Object.values(CHAINS)) {
    for (const hook of c.hooks) {
      // Delete every jump into our chain, whatever interface it names (a leftover may have used another bridge).
      const rules = await sh('iptables', ['-w', '5', '-t', c.table, '-S', hook]).catch(() => '');
      for (const rule of rules.split('\n')) {
        if (!rule.startsWith(`-A ${hook} `) || !rule.includes(`-j ${c.name}`)) continue;
        const args = rule.slice(3).match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''));
        await trySh('iptables', ['-w', '5', '-t', c.table, '-D', ...args]);
      }
    }
    await trySh('iptables', ['-w', '5', '-t', c.table, '-F', c.name]);
    await trySh('iptables', ['-w', '5', '-t', c.table, '-X', c.name]);
  }
  await trySh('ip', ['link', 'del', bridge]);
}

/**
 * The kubelet makes iptables chains of its own in the host's tables (the canary it watches for flushes, a hint, and
 * KUBE-FIREWALL with the CVE-2020-8558 rule); it never removes them. Called once no kubelet runs on the machine.
 */
export async function removeKubeletChains(): Promise<void> {
  const chains: [string, string][] = [['filter', 'KUBE-FIREWALL'], ['filter', 'KUBE-KUBELET-CANARY'], ['nat', 'KUBE-KUBELET-CANARY'], ['mangle', 'KUBE-KUBELET-CANARY'], ['mangle', 'KUBE-IPTABLES-HINT']];
  for (const tool of ['iptables', 'ip6tables']) {
    for (const [table, chain] of chains) {
      const rules = await sh(tool, ['-w', '5', '-t', table, '-S']).catch(() => '');
      for (const rule of rules.split('\n')) {
        if (rule.startsWith('-A ') && rule.endsWith(`-j ${chain}`)) await trySh(tool, ['-w', '5', '-t', table, '-D', ...rule.slice(3).split(' ')]);
      }
      await trySh(tool, ['-w', '5', '-t', table, '-F', chain]);
      await trySh(tool, ['-w', '5', '-t', table, '-X', chain]);
    }
  }
}

/** What of the network is still there (for `down`'s check and the clean-up test): empty when nothing is. */
export async function networkLeftovers(bridge: string): Promise<string[]> {
  const left: string[] = [];
  if (await trySh('ip', ['link', 'show', bridge])) left.push(`bridge ${bridge}`);
  for (const c of Object.values(CHAINS)) {
    if (await trySh('iptables', ['-w', '5', '-t', c.table, '-S', c.name])) left.push(`iptables chain ${c.table}/${c.name}`);
  }
  return left;
}
