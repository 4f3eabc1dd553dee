import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthServer, type Readiness } from './health-server.js';
import { apiRequestObserver, createMetrics, workQueueObserver } from './metrics.js';

describe('health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(isReady: () => Readiness | Promise<Readiness>) {
    const metrics = createMetrics({ defaultMetrics: false });
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, isReady });
    return { metrics, url: server.url };
  }

  it('answers /healthz while up', async () => {
    const { url } = await start(() => ({ ready: false, reason: 'not leading' }));
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok\n');
  });

  it('answers /readyz from isReady, with the reason when not ready', async () => {
    let readiness: Readiness = { ready: false, reason: 'informers not synced' };
    const { url } = await start(async () => readiness);
    let response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('informers not synced\n');
    readiness = { ready: true };
    response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(200);
  });

  it('reports a throwing readiness check as not ready', async () => {
    const { url } = await start(() => {
      throw new Error('no client');
    });
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('readiness check failed: no client\n');
  });

  it('serves the registry at /metrics in the Prometheus text format', async () => {
    const { url, metrics } = await start(() => ({ ready: true }));
    const queue = workQueueObserver(metrics);
    queue.processed?.({ key: 'ns/a', result: 'error', durationMs: 12 });
    queue.processed?.({ key: 'ns/a', result: 'success', durationMs: 3 });
    queue.depth?.(4);
    apiRequestObserver(metrics)('PATCH', '/api/v1/namespaces/x/pods/y', 200);
    metrics.reports.set({ condition: 'Ready', status: 'True' }, 2);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await response.text();
    expect(text).toContain('mustgather_reconcile_total{result="error"} 1');
    expect(text).toContain('mustgather_reconcile_total{result="success"} 1');
    expect(text).toContain('mustgather_reconcile_errors_total 1');
    expect(text).toContain('mustgather_reconcile_duration_seconds_count 2');
    expect(text).toContain('mustgather_workqueue_depth 4');
    expect(text).toContain('mustgather_api_requests_total{verb="PATCH",code="200"} 1');
    expect(text).toContain('mustgather_reports{condition="Ready",status="True"} 2');
    expect(text).not.toContain('nodejs_');
  });

  it('keeps registries apart, with the default metrics when asked', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.reconcileErrorsTotal.inc();
    expect(await b.registry.getSingleMetricAsString('mustgather_reconcile_errors_total')).toContain('mustgather_reconcile_errors_total 0');
    expect(await a.registry.metrics()).toContain('nodejs_');
  });

  it('answers 404 and 405 for anything else', async () => {
    const { url } = await start(() => ({ ready: true }));
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('closes with a keep-alive connection open', async () => {
    const { url } = await start(() => ({ ready: true }));
    await (await fetch(`${url}/healthz`)).text(); // fetch keeps the connection alive
    await server!.close();
    server = undefined;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
