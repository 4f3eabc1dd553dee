/**
 * The cdk8s app behind `npx cdk8s synth` (see cdk8s.yaml): every report in examples/*.yaml becomes a ReportChart,
 * beside the operator's InstallChart, written to cdk8s.out/. The cookie secret is fixed here so the output is
 * reproducible; the operator generates a random one per report.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { parse } from 'yaml';
import { InstallChart } from './constructs/install-chart.js';
import { validateReport } from './constructs/report-api.js';
import { ReportChart } from './constructs/report-chart.js';

const EXAMPLE_COOKIE_SECRET = 'example-cookie-secret-32-bytes!!';

const app = new App();
new InstallChart(app, 'install');
for (const file of readdirSync('examples').filter((name) => name.endsWith('.yaml')).sort()) {
  const report = validateReport(parse(readFileSync(join('examples', file), 'utf8')));
  new ReportChart(app, `report-${file.replace(/\.yaml$/, '')}`, { report, cookieSecret: EXAMPLE_COOKIE_SECRET });
}
app.synth();
