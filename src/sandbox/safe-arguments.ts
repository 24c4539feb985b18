/**
 * Safe arguments: a job takes small plain values (ids, strings, numbers, ISO dates) and fetches fresh data when it
 * runs. Anything else is rejected at enqueue, before any RPC, with the path of the offending field.
 */

/** A plain JSON value. `Date`, class instances, `Map`/`Set`, functions, `BigInt` and `undefined` are not. */
export type SafeValue = string | number | boolean | null | readonly SafeValue[] | { readonly [key: string]: SafeValue };

/** The arguments object of a job. */
export type SafeObject = { readonly [key: string]: SafeValue };

/** Payload budget for one job's arguments, as UTF-8 JSON. */
export const DEFAULT_MAX_ARGUMENT_BYTES = 64 * 1024;

/**
 * Levels of objects and arrays the arguments may nest, the arguments object itself being the first. Deeper is
 * refused where the limit is crossed, and the check stops there: a hostile body of 100,000 nested arrays is one issue,
 * not a stack overflow.
 */
export const MAX_ARGUMENT_DEPTH = 32;

export interface ArgumentIssue {
  /** Where the problem is, e.g. `items[2].price`; `(arguments)` for the whole object. */
  readonly path: string;
  readonly message: string;
}

/**
 * Thrown by `enqueue` (and the CLI and HTTP service) when a job's arguments are not safe plain values or do not match
 * the job's schema; nothing has been sent to Temporal then. Inside a job's workflow (a run started by another client)
 * the same check fails the run with an `InvalidJobArguments` failure instead (argument-validation.ts).
 */
export class InvalidJobArgumentsError extends Error {
  override readonly name = 'InvalidJobArgumentsError';

  constructor(
    readonly job: string,
    readonly issues: readonly ArgumentIssue[],
  ) {
    super(`Invalid arguments for job "${job}": ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

export const ROOT_PATH = '(arguments)';

/** Joins a path the way a reader of the arguments would write it: `a.b[3].c`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  if (segments.length === 0) return ROOT_PATH;
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * Lists every value that is not a plain JSON value, nesting deeper than `MAX_ARGUMENT_DEPTH`, and a budget overrun.
 * Empty when the value is safe. Recurses at most `MAX_ARGUMENT_DEPTH` levels, whatever the value.
 */
export function findUnsafeValues(value: unknown, maxBytes = DEFAULT_MAX_ARGUMENT_BYTES): ArgumentIssue[] {
  const issues: ArgumentIssue[] = [];
  walk(value, [], new Set(), issues);
  if (issues.length === 0) {
    const bytes = new TextEncoder().encode(JSON.stringify(value)).length; // no Buffer: workflow code runs this too
    if (bytes > maxBytes) {
      issues.push({
        path: ROOT_PATH,
        message:
          `arguments are ${bytes} bytes, over the ${maxBytes}-byte budget; ` +
          'pass ids and let the job fetch the data',
      });
    }
  }
  return issues;
}

function walk(value: unknown, path: PropertyKey[], ancestors: Set<object>, issues: ArgumentIssue[]): void {
  const problem = describeUnsafe(value);
  if (problem) {
    issues.push({ path: formatPath(path), message: problem });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (ancestors.has(value)) {
    issues.push({ path: formatPath(path), message: 'is a circular reference' });
    return;
  }
  if (path.length >= MAX_ARGUMENT_DEPTH) {
    // This object or array would be level MAX_ARGUMENT_DEPTH + 1: refused here, and nothing inside it is visited.
    issues.push({
      path: formatPath(path),
      message: `nests deeper than ${MAX_ARGUMENT_DEPTH} levels; jobs take flat plain values`,
    });
    return;
  }
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) issues.push({ path: formatPath([...path, i]), message: 'is a hole in a sparse array' });
      else walk(value[i], [...path, i], ancestors, issues);
    }
  } else {
    for (const [key, child] of Object.entries(value)) walk(child, [...path, key], ancestors, issues);
  }
  ancestors.delete(value);
}

function describeUnsafe(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      if (Number.isNaN(value)) return 'is NaN; JSON cannot carry it';
      if (!Number.isFinite(value)) return `is ${value}; JSON cannot carry it`;
      return undefined;
    case 'undefined':
      return 'is undefined; omit the field or pass null';
    case 'bigint':
      return 'is a BigInt; pass it as a string';
    case 'function':
      return 'is a function; jobs take plain values';
    case 'symbol':
      return 'is a Symbol; jobs take plain values';
    case 'object': {
      if (value === null || Array.isArray(value)) return undefined;
      if (value instanceof Date) return "is a Date; pass an ISO date string such as '2026-11-28'";
      if (value instanceof Map) return 'is a Map; pass a plain object';
      if (value instanceof Set) return 'is a Set; pass an array';
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const className = (proto as { constructor?: { name?: string } }).constructor?.name || 'an unnamed class';
        return `is an instance of ${className}; pass its id (or plain fields) and let the job fetch fresh data`;
      }
      return undefined;
    }
  }
}
