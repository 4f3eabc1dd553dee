/**
 * The cdk8s app behind `npx cdk8s synth` (see cdk8s.yaml): every report in examples/*.yaml becomes a ReportChart,
 * beside the operator's InstallChart, written to cdk8s.out/. Reproducible: the objects only the operator may make at
 * runtime (oauth-proxy's random cookie secret) are left out, and named on standard error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { parse } from 'yaml';
import { InstallChart } from './constructs/install-chart.js';
import { validateReport } from './constructs/report-api.js';
import { ReportChart, runtimeObjects } from './constructs/report-chart.js';

const app = new App();
new InstallChart(app, 'install');
for (const file of readdirSync('examples').filter((name) => name.endsWith('.yaml')).sort()) {
  const report = validateReport(parse(readFileSync(join('examples', file), 'utf8')));
  new ReportChart(app, `report-${file.replace(/\.yaml$/, '')}`, { report, runtimeObjects: 'omit' });
  for (const o of runtimeObjects(report)) console.error(`${file}: left out ${o.kind} ${o.namespace}/${o.name} (${o.reason}): the operator makes it`);
}
app.synth();
