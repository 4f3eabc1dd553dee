import { describe, expect, it } from 'vitest';
import { StatusLine } from './download.js';

/** A stream that keeps what is written: a terminal or a log file. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const out = { isTTY, columns: 80, text: '', write(chunk: string) { out.text += chunk; return true; } };
  return out as unknown as NodeJS.WriteStream & { text: string };
}

describe('StatusLine', () => {
  it('prints a line to a log only when it changes, and every done line', () => {
    const out = stream(false);
    const line = new StatusLine(out);
    line.show('waiting');
    line.show('waiting');
    line.show('Pending');
    line.done('Ready');
    expect(out.text).toBe('waiting\nPending\nReady\n');
  });

  it('rewrites the line in place on a terminal', () => {
    const out = stream(true);
    const line = new StatusLine(out);
    line.show('waiting');
    line.done('Ready');
    expect(out.text).toBe('\r\x1b[Kwaiting\r\x1b[KReady\n');
  });

  it('writes nothing once silenced (a run abandoned on Ctrl-C), while another line on the same stream goes on', () => {
    const out = stream(false);
    const progress = new StatusLine(out);
    const cleanUp = new StatusLine(out);
    progress.show('Pending');
    progress.silence();
    cleanUp.done('SIGINT: stopping');
    progress.show('Gathering');
    progress.done('Ready');
    cleanUp.done('deleted');
    expect(out.text).toBe('Pending\nSIGINT: stopping\ndeleted\n');
  });
});
