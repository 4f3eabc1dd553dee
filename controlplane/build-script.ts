import { spawn } from 'node:child_process';

/**
 * Runs one of the hack/<name>/build.sh scripts: its progress (stderr) goes to `log` line by line, and it resolves to
 * the last line of its stdout (where the scripts print what they built). A failure rejects with the script's own
 * one-sentence `error:` line, prefixed by `what`.
 */
export function runBuildScript(script: string, what: string, log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '';
    let errTail: string[] = [];
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        log(l);
        errTail = [...errTail.slice(-19), l];
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) {
        log(partial);
        errTail.push(partial);
      }
      if (code !== 0) {
        const sentence = [...errTail].reverse().find((l) => l.includes('error:')) ?? errTail.slice(-5).join('\n');
        reject(new Error(`building ${what} failed (exit ${code}): ${sentence.replace(/^\[[^\]]*\] error: /, '')}`));
        return;
      }
      resolve(out.trim().split('\n').pop() ?? '');
    });
  });
}
