/**
 * Charts to plain manifests, in memory: no temp directories, no files (what the reconciler and `mustgather synth`
 * need; `App.synth()` would write to disk).
 */
import { randomBytes } from 'node:crypto';
import { App } from 'cdk8s';
import { InstallChart, type InstallChartProps } from './install-chart.js';
import type { OperatorImages } from './operator-config.js';
import type { MustGatherReport } from './report-api.js';
import { ReportChart } from './report-chart.js';

/** A rendered Kubernetes object. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Options of {@link renderReport}. */
export interface RenderReportOptions {
  /** See {@link ReportChartProps.cookieSecret}. @default - 32 fresh random bytes */
  readonly cookieSecret?: string;
  /** See {@link ReportChartProps.images}. @default DEFAULT_IMAGES */
  readonly images?: OperatorImages;
}

/** A new oauth-proxy cookie secret: 32 random bytes, base64 (oauth-proxy wants 16, 24 or 32 bytes). */
export function newCookieSecret(): string {
  return randomBytes(32).toString('base64').slice(0, 32);
}

/** The manifests of one report's chart. */
export function renderReport(report: MustGatherReport, options: RenderReportOptions = {}): Manifest[] {
  const chart = new ReportChart(new App(), 'report', {
    report,
    cookieSecret: options.cookieSecret ?? newCookieSecret(),
    ...(options.images ? { images: options.images } : {}),
  });
  return chart.toJson() as Manifest[];
}

/** The operator's install manifests. */
export function renderInstall(props: InstallChartProps = {}): Manifest[] {
  return new InstallChart(new App(), 'install', props).toJson() as Manifest[];
}
