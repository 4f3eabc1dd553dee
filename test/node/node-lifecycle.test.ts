/**
 * The local node's own promises: one node at a time, and nothing left behind, also after a killed run (processes,
 * mounts, cgroups, bridge, iptables chains, network namespaces, files), with the global ip_forward untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../controlplane/binaries.js';
import { startControlPlane } from '../../controlplane/controlplane.js';
import { cleanUpNode, nodeDir, nodeLeftovers } from '../../controlplane/node.js';
import { EXISTING, NODE_UNAVAILABLE, nodeSuite } from './cluster.js';

const ipForward = () => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();

describe.runIf(!NODE_UNAVAILABLE && !EXISTING)(nodeSuite(EXISTING ? 'a local node (not with USE_EXISTING_CLUSTER: it starts nodes of its own)' : 'a local node'), () => {
  let holder: ChildProcess | undefined;
  afterAll(async () => {
    holder?.kill('SIGKILL');
    await cleanUpNode().catch(() => undefined);
  });

  it('refuses a second node while one runs, and a killed run leaves nothing that down cannot remove', async () => {
    const forwardBefore = ipForward();
    holder = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot(), 'test/node/fixtures/hold-node.ts')], {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    holder.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const ready = await new Promise<string>((resolve, reject) => {
      let out = '';
      holder!.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /READY (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      holder!.on('exit', (code) => reject(new Error(`the node holder exited (${code}):\n${stderr.slice(-3000)}`)));
    });
    expect(ready).toMatch(/admin\.kubeconfig$/);

    // One node at a time: a second start names the owner and what to do.
    await expect(startControlPlane({ node: true, handleSignals: false })).rejects.toThrow(
      new RegExp(`a local node is already running \\(owned by pid ${holder.pid}.*controlplane down`),
    );
    // ... and cleaning up never touches a live run.
    await expect(cleanUpNode()).rejects.toThrow(`owned by live pid ${holder.pid}`);

    // Killed without a chance to clean up: its pod, mounts, cgroups, bridge and chains stay behind.
    holder.kill('SIGKILL');
    await new Promise((r) => holder!.once('exit', r));
    const left = await nodeLeftovers();
    expect(left.join('\n')).toMatch(/mount .*\n?/);
    expect(left.join('\n')).toContain('bridge mustgather0');
    expect(existsSync(nodeDir())).toBe(true);

    // What `controlplane down` does removes all of it.
    expect(await cleanUpNode()).toEqual([]);
    expect(await nodeLeftovers()).toEqual([]);
    expect(existsSync(nodeDir())).toBe(false);
    expect(ipForward()).toBe(forwardBefore);
  });
});
