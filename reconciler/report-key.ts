/**
 * The work queue's key of a report: `namespace/name`. One type and one parser, so that an owned object's report
 * annotation, a report's own metadata and the reconciler all agree on what a key is.
 */

/** `namespace/name` of a report. */
export type ReportKey = string & { readonly reportKey: unique symbol };

/** The key of a report (or of anything with a report's namespace and name). */
export function reportKey(report: { readonly metadata: { readonly namespace?: string; readonly name: string } }): ReportKey {
  return `${report.metadata.namespace ?? ''}/${report.metadata.name}` as ReportKey;
}

/**
 * The namespace and name in `key`; undefined when it is not `namespace/name` (an annotation someone edited, say).
 * Names cannot hold a `/`, so the first one splits.
 */
export function parseReportKey(key: string): { namespace: string; name: string; key: ReportKey } | undefined {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1 || key.indexOf('/', slash + 1) >= 0) return undefined;
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1), key: key as ReportKey };
}
