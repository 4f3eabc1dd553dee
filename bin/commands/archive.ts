import { writeFileSync } from 'node:fs';
import { ARCHIVE_DEFAULTS, createArchive } from '../../datapath/archive.js';
import { Redactor } from '../../datapath/redact.js';
import { formatSummary } from '../../datapath/summary.js';
import { parseCommandArgs, UsageError } from '../usage.js';
import { formatArchiveResult, parseRedactKinds, parseSummaryInput, REDACT_KINDS, REDACTION_FILE, SUMMARY_ENV, SUMMARY_FILE } from '../../constructs/pod-contract.js';

const HELP = `Usage: mustgather archive --source DIR --output FILE [--termination-log FILE] [--level N] [--redact KINDS]

In the report pod, after the gathers: compresses every directory under DIR into FILE (entries under must-gather/),
writes FILE.sha256 (sha256sum -c format) and the result as one JSON line to the termination log
({"sizeBytes":..,"sha256":"..","files":..,"warnings":..,"gathers":[{"index":..,"state":"..","exitCode":..}]}).
  --source DIR             the gathered data, one directory per image
  --output FILE            the archive (written to a temporary file, renamed when complete)
  --termination-log FILE   default $MUST_GATHER_TERMINATION_LOG or /dev/termination-log
  --level N                gzip level 1-9 (default ${ARCHIVE_DEFAULTS.level})
  --redact KINDS           comma-separated, of ${REDACT_KINDS.join(', ')}: replace those values in every text file
                           (gzip files too) while archiving, with tokens keyed by a random key that is not kept (the
                           same value, the same token); the summary and failed gathers' messages too. The archive
                           ends with ${ARCHIVE_DEFAULTS.prefix}/${REDACTION_FILE}: counts, the binary files archived as they are and the files left out.
Files that vanish or change while archived are warnings, not failures. With $${SUMMARY_ENV} (the report, its images
and the cluster facts as JSON, from the operator), the archive starts with ${ARCHIVE_DEFAULTS.prefix}/${SUMMARY_FILE}: those facts and
each image's result.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    source: { type: 'string' },
    output: { type: 'string' },
    'termination-log': { type: 'string', default: process.env.MUST_GATHER_TERMINATION_LOG ?? '/dev/termination-log' },
    level: { type: 'string', default: String(ARCHIVE_DEFAULTS.level) },
    redact: { type: 'string' },
  }, HELP);
  if (!parsed) return 0;
  const { source, output, level } = parsed.values;
  if (!source || !output) throw new UsageError('--source and --output are required');
  if (!/^[1-9]$/.test(level)) throw new UsageError(`--level must be 1-9, not "${level}"`);
  let redactor: Redactor | undefined;
  if (parsed.values.redact !== undefined) {
    try {
      redactor = new Redactor(parseRedactKinds(parsed.values.redact));
    } catch (err) {
      throw new UsageError(`--redact: ${(err as Error).message}`);
    }
  }
  const started = performance.now();
  const summaryInput = process.env[SUMMARY_ENV];
  const summary = await createArchive({
    source, output, level: Number(level),
    ...(redactor && !redactor.empty ? { redactor } : {}),
    ...(summaryInput !== undefined ? { extraFiles: (results) => [{ name: SUMMARY_FILE, content: formatSummary(parseSummaryInput(summaryInput), results) }] } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  console.log(
    `archived ${summary.files} files (${mib(summary.bytesIn)} MiB) into ${output} (${mib(summary.sizeBytes)} MiB, ${summary.members} gzip members) ` +
      `in ${seconds.toFixed(1)} s, ${mib(summary.bytesIn / seconds)} MiB/s; sha256 ${summary.sha256}` +
      (summary.warnings > 0 ? `; ${summary.warnings} warnings` : '') +
      (summary.redaction ? `; redacted ${REDACT_KINDS.map((k) => `${summary.redaction![k]} ${k}`).join(', ')} in ${summary.redaction.filesRedacted} files` : ''),
  );
  const message = formatArchiveResult(summary);
  try {
    writeFileSync(parsed.values['termination-log'], message);
  } catch (err) {
    // Outside a pod there may be no termination log: the archive is made, say where the result went.
    console.error(`warning: cannot write the termination log ${parsed.values['termination-log']} (${(err as NodeJS.ErrnoException).code}); result: ${message}`);
  }
  return 0;
}
