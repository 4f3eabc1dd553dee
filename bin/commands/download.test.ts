import { describe, expect, it } from 'vitest';
import { StatusLine } from './download.js';

/** What lines on one stream (a terminal or a log file) write, given what is done with them. */
function written(isTTY: boolean, act: (line: () => StatusLine) => void): string {
  const out = { isTTY, columns: 80, text: '', write(chunk: string) { out.text += chunk; return true; } };
  act(() => new StatusLine(out as unknown as NodeJS.WriteStream));
  return out.text;
}

describe('StatusLine', () => {
  // The same lines to a log (each change once, every done line) and to a terminal (rewritten in place).
  it.each([
    ['a log', false, 'waiting\nPending\nReady\n'],
    ['a terminal', true, '\r\x1b[Kwaiting\r\x1b[Kwaiting\r\x1b[KPending\r\x1b[KReady\n'],
  ])('writes to %s', (_, isTTY, expected) => {
    expect(written(isTTY, (newLine) => {
      const line = newLine();
      line.show('waiting');
      line.show('waiting');
      line.show('Pending');
      line.done('Ready');
    })).toBe(expected);
  });

  it('writes nothing once silenced (a run abandoned on Ctrl-C), while another line on the same stream goes on', () => {
    expect(written(false, (newLine) => {
      const progress = newLine();
      const cleanUp = newLine();
      progress.show('Pending');
      progress.silence();
      cleanUp.done('SIGINT: stopping');
      progress.show('Gathering');
      progress.done('Ready');
      cleanUp.done('deleted');
    })).toBe('Pending\nSIGINT: stopping\ndeleted\n');
  });
});
