/** Checked-in generated files must match their sources: `npm run render` and `npm run imports` regenerate them. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderedFiles } from '../scripts/rendered-files.js';

describe('generated files are up to date', () => {
  it.each(Object.entries(renderedFiles()))('%s (npm run render)', (path, content) => {
    expect(readFileSync(path, 'utf8'), `${path} is stale: run npm run render`).toBe(content);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'imports-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('imports/ (npm run imports)', () => {
    execFileSync('npx', ['cdk8s', 'import', '--output', scratch, '--language', 'typescript'], { stdio: 'pipe' });
    const generated = readdirSync(scratch).sort();
    expect(readdirSync('imports').sort()).toEqual(generated);
    for (const file of generated) {
      expect(readFileSync(join('imports', file), 'utf8'), `imports/${file} is stale: run npm run imports`).toBe(readFileSync(join(scratch, file), 'utf8'));
    }
  }, 60_000);
});
