import type { JobRunStatus } from '../client/client';
import { formatDuration, formatNumber, formatPercent } from '../format';
import type { JobProgress } from '../sandbox/progress';
import { fields } from './output';

/**
 * The human form of a job run: the status block `jobctl status` prints (and `jobctl watch` once the run closes), its
 * progress line, and the one line that says why a run failed.
 */

/**
 * `412/1000 slices (41.2%), 3 failed, 12.5 slices/s, ETA 47 s, phase running` — the status block's progress line, and
 * watch's while the run is open.
 */
export function formatProgress(p: JobProgress): string {
  const unit = p.unit || 'units';
  const parts = [
    p.total > 0
      ? `${p.done}/${p.total} ${unit} (${formatPercent(p.percent / 100)})`
      : `${p.done} ${unit} (total not known yet)`,
  ];
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  if (p.ratePerSecond > 0) parts.push(`${formatNumber(p.ratePerSecond)} ${unit}/s`);
  if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds) && p.etaSeconds >= 0) {
    parts.push(`ETA ${formatDuration(p.etaSeconds * 1000)}`);
  }
  if (p.phase) parts.push(`phase ${p.phase}`);
  return parts.join(', ');
}

/** The human form of a run's status: what `jobctl status` prints, and `jobctl watch` once the run closes. */
export function formatStatus(s: JobRunStatus): string {
  return [
    `${s.workflowId}  ${s.status}`,
    fields([
      ['job', s.job],
      ['run', s.runId],
      ['started', s.startTime],
      ['starts at', s.startsAt],
      ['expires at', s.expiresAt],
      ['closed', s.closeTime],
      ['enqueued by', s.enqueuedBy],
      ['progress', s.progress ? formatProgress(s.progress) : undefined],
      ['result', s.result === undefined ? undefined : JSON.stringify(s.result)],
      ['failure', s.failure ? `${s.failure.type ?? 'Error'}: ${s.failure.message}` : undefined],
      ['web ui', s.url],
    ]),
  ].join('\n');
}

/** `<workflowId> failed: <type>: <message>` for a run that closed unsuccessfully (written after `jobctl: `). */
export function failureLine(s: JobRunStatus): string {
  if (s.status === 'Canceled') return `${s.workflowId} was cancelled: the run closed as Canceled`;
  const type = s.failure?.type ?? s.status;
  const message = (s.failure?.message ?? `the run closed as ${s.status}`).replace(/\s*\n\s*/g, ' ');
  return `${s.workflowId} failed: ${type}: ${message}`;
}
