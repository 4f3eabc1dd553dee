/**
 * Charts to plain manifests, in memory: no temp directories, no files (what the reconciler and `mustgather synth`
 * need; `App.synth()` would write to disk).
 */
import { randomBytes } from 'node:crypto';
import { App } from 'cdk8s';
import { InstallChart, type InstallChartProps } from './install-chart.js';
import { ReportChart, type ReportChartProps } from './report-chart.js';
import type { MustGatherReport } from './report-api.js';

/** A rendered Kubernetes object. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Options of {@link renderReport}: the {@link ReportChartProps} but the report. */
export type RenderReportOptions = Omit<ReportChartProps, 'report' | 'cookieSecret'> & {
  /**
   * See {@link ReportChartProps.cookieSecret}.
   * @default - 32 fresh random bytes on OpenShift, unless runtimeObjects is 'omit'
   */
  readonly cookieSecret?: string;
};

/** A new oauth-proxy cookie secret: 32 random bytes, base64 (oauth-proxy wants 16, 24 or 32 bytes). */
export function newCookieSecret(): string {
  return randomBytes(32).toString('base64').slice(0, 32);
}

/** The manifests of one report's chart. */
export function renderReport(report: MustGatherReport, options: RenderReportOptions = {}): Manifest[] {
  const needsCookie = (options.platform ?? 'openshift') === 'openshift' && options.runtimeObjects !== 'omit';
  const chart = new ReportChart(new App(), 'report', {
    ...options,
    report,
    ...(needsCookie ? { cookieSecret: options.cookieSecret ?? newCookieSecret() } : {}),
  });
  return chart.toJson() as Manifest[];
}

/** The operator's install manifests. */
export function renderInstall(props: InstallChartProps = {}): Manifest[] {
  return new InstallChart(new App(), 'install', props).toJson() as Manifest[];
}
