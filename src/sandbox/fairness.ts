/**
 * Fair sharing between the keys of one task queue (tenants, customers): Temporal's `priority.fairnessKey` and
 * `fairnessWeight`, which the server's matcher uses, with `matching.enableFairness` on (docker/dynamicconfig.yaml), to
 * hand out a backlogged queue's tasks to its keys in proportion to their weights instead of first in, first out.
 * Pure: job declarations (sandbox code) import it.
 */
import type { SafeObject } from './safe-arguments';
import { InvalidEnqueueOptionError } from './errors';

/** The server refuses longer keys (`FairnessKey length exceeds limit`); counted in UTF-8 bytes. */
export const FAIRNESS_KEY_MAX_BYTES = 64;
/** The server clamps weights to this range; outside it we refuse rather than let the clamp surprise anyone. */
export const FAIRNESS_WEIGHT_MIN = 0.001;
export const FAIRNESS_WEIGHT_MAX = 1000;

/** A job's fair sharing, derived from its arguments (`JobDefinition.fairness`). */
export interface JobFairness<Args extends SafeObject = SafeObject> {
  /**
   * The key runs share the queue by, from the arguments: a tenant or customer id. Runs of one key are dispatched in
   * proportion to its weight against the other keys' runs waiting in the same queue. Non-empty, at most 64 bytes.
   */
  readonly key: (args: Args) => string;
  /**
   * The key's share: a key with weight 2 gets twice the dispatches of a key with weight 1 while both have work waiting.
   * A number, or derived from the arguments (e.g. by plan). From 0.001 to 1000. @default 1
   */
  readonly weight?: number | ((args: Args) => number);
}

/** The fairness fields of an enqueue, as `EnqueueOptions` and the HTTP query take them. */
export interface FairnessOptions {
  fairnessKey?: string;
  fairnessWeight?: number;
}

/** A bad fairness key or weight; `field` is the option's (and HTTP query parameter's) name. */
export class InvalidFairnessError extends InvalidEnqueueOptionError {
  override name = 'InvalidFairnessError';
}

/** Bytes of a string in UTF-8 (no TextEncoder needed: this runs in the workflow sandbox too). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** A fairness key: a non-empty string of at most 64 UTF-8 bytes. Throws `InvalidFairnessError` naming `field`. */
export function checkFairnessKey(value: unknown, field = 'fairnessKey'): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidFairnessError(field, `must be a non-empty string, got ${JSON.stringify(value) ?? String(value)}`);
  const bytes = utf8Length(value);
  if (bytes > FAIRNESS_KEY_MAX_BYTES)
    throw new InvalidFairnessError(field, `must be at most ${FAIRNESS_KEY_MAX_BYTES} bytes (UTF-8), got ${bytes}`);
  return value;
}

/**
 * A fairness weight: a number (or, from a command line or query string, a numeric string) from 0.001 to 1000. Throws
 * `InvalidFairnessError` naming `field`.
 */
export function checkFairnessWeight(value: unknown, field = 'fairnessWeight'): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < FAIRNESS_WEIGHT_MIN || n > FAIRNESS_WEIGHT_MAX) {
    throw new InvalidFairnessError(
      field,
      `must be a positive number from ${FAIRNESS_WEIGHT_MIN} to ${FAIRNESS_WEIGHT_MAX}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return n;
}

/** Checks a declaration's `fairness` (TypeError naming the field); the derived keys are checked at each enqueue. */
export function validateJobFairness(jobName: string, fairness: unknown): void {
  const fail = (message: string): never => {
    throw new TypeError(`job "${jobName}": fairness${message}`);
  };
  if (fairness === null || typeof fairness !== 'object' || Array.isArray(fairness))
    fail(' must be an object: { key: (args) => string, weight? }');
  const { key, weight, ...rest } = fairness as Record<string, unknown>;
  for (const field of Object.keys(rest)) fail(`.${field} is not a fairness field (key, weight)`);
  if (typeof key !== 'function') fail('.key must be a function of the arguments returning the key');
  if (weight !== undefined && typeof weight !== 'function') {
    try {
      checkFairnessWeight(weight, 'weight');
    } catch (err) {
      fail(`.${(err as Error).message}`);
    }
  }
}

/**
 * The fairness key and weight of one enqueue: the enqueue's own (`fairnessKey`, `fairnessWeight`) over the ones the
 * job derives from its arguments. Each is checked; a derived one's error names `fairness.key` / `fairness.weight` (the
 * job's declaration).
 * Empty when neither gives any: the run shares the queue's default key.
 */
export function fairnessFor<Args extends SafeObject>(
  job: { readonly name: string; readonly fairness?: JobFairness<Args> },
  args: Args,
  options: FairnessOptions,
): FairnessOptions {
  const out: FairnessOptions = {};
  if (options.fairnessKey !== undefined) out.fairnessKey = checkFairnessKey(options.fairnessKey);
  else if (job.fairness) out.fairnessKey = checkFairnessKey(job.fairness.key(args), 'fairness.key');
  if (options.fairnessWeight !== undefined) out.fairnessWeight = checkFairnessWeight(options.fairnessWeight);
  else if (job.fairness?.weight !== undefined) {
    const { weight } = job.fairness;
    out.fairnessWeight = checkFairnessWeight(typeof weight === 'function' ? weight(args) : weight, 'fairness.weight');
  }
  return out;
}
