import { InvalidArgumentError } from 'commander';
import type { JobStatus } from '../client/client';
import type { PriorityKey } from '../sandbox/job-definition';
import { checkFairnessKey, checkFairnessWeight, InvalidFairnessError } from '../sandbox/fairness';
import { lazy } from './lazy';

/**
 * Commander option parsers: each throws InvalidArgumentError, which commander prints as one line naming the option.
 * What a parser checks with is loaded when it runs (`lazy`): defining the options loads nothing more.
 */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function parsePriorityKey(value: string): PriorityKey {
  const n = Number(value);
  if (![1, 2, 3, 4, 5].includes(n)) throw new InvalidArgumentError('must be an integer from 1 (first) to 5 (last)');
  return n as PriorityKey;
}

export function parseFraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

export function parseStatus(value: string): JobStatus {
  const { JOB_STATUSES } = lazy.client();
  const match = JOB_STATUSES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!match) throw new InvalidArgumentError(`must be one of ${JOB_STATUSES.join(', ')}`);
  return match;
}

/** `--in` / `--expires-after`: a duration such as 10m, 5s or 2h (as `EnqueueOptions.delay` and `expiresAfter` take). */
export function parseDurationOption(field: 'delay' | 'expiresAfter') {
  return (value: string): number => {
    try {
      return lazy.jobTiming().parseJobDuration(value, field, { allowZero: field === 'delay' });
    } catch (err) {
      throw new InvalidArgumentError(withoutField(err, field));
    }
  };
}

/** `--fairness-key`: a non-empty key of at most 64 bytes (as `EnqueueOptions.fairnessKey` takes). */
export function parseFairnessKeyOption(value: string): string {
  return fairnessOption(() => checkFairnessKey(value));
}

/** `--fairness-weight`: a number from 0.001 to 1000 (as `EnqueueOptions.fairnessWeight` takes). */
export function parseFairnessWeightOption(value: string): number {
  return fairnessOption(() => checkFairnessWeight(value));
}

function fairnessOption<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof InvalidFairnessError)) throw err;
    throw new InvalidArgumentError(err.message.slice(err.field.length + 1)); // commander names the option
  }
}

/** `--at`: an ISO 8601 time with a zone, not more than a second in the past (as `EnqueueOptions.runAt` takes). */
export function parseRunAtOption(value: string): string {
  try {
    lazy.jobTiming().jobTiming({ runAt: value }, undefined, Date.now());
  } catch (err) {
    throw new InvalidArgumentError(withoutField(err, 'runAt'));
  }
  return value;
}

/** An `InvalidJobTimingError`'s message without its field name, which commander replaces with the option's. */
function withoutField(err: unknown, field: string): string {
  if (!(err instanceof lazy.jobTiming().InvalidJobTimingError)) throw err;
  return err.message.startsWith(`${field} `) ? err.message.slice(field.length + 1) : err.message;
}

/**
 * `--dynamic-config-value key=value` (repeatable, as the Temporal CLI's dev server takes it): the value as JSON when it
 * is JSON (`true`, `1000`, `"2s"`, `null` to remove a key), else the string itself (`2s`). Collects into one object.
 */
export function parseDynamicConfigValue(
  entry: string,
  previous: Record<string, unknown> = {},
): Record<string, unknown> {
  const at = entry.indexOf('=');
  const key = entry.slice(0, Math.max(at, 0));
  if (at < 1 || !/^[A-Za-z][\w.]*$/.test(key))
    throw new InvalidArgumentError(
      `expected key=value with a dynamic config key (e.g. matching.longPollExpirationInterval=10s), got "${entry}"`,
    );
  const raw = entry.slice(at + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return { ...previous, [key]: value };
}
