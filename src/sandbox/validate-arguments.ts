import type { ZodType } from 'zod';
import {
  findUnsafeValues,
  formatPath,
  InvalidJobArgumentsError,
  ROOT_PATH,
  type ArgumentIssue,
  type SafeObject,
} from './safe-arguments';

/**
 * Checks raw arguments against a job: first that they are safe plain values within the size budget, then the job's
 * schema. Returns the parsed arguments or throws `InvalidJobArgumentsError` listing every problem by field path.
 * Pure: the client runs it before any RPC, and the job's workflow runs it again at its door (argument-validation.ts).
 */
/** What the check reads of a job's declaration (`JobDefinition`). */
export interface ArgumentsDeclaration<Args extends SafeObject> {
  readonly name: string;
  readonly args: ZodType<Args>;
  readonly maxArgumentBytes?: number;
}

export function validateJobArguments<Args extends SafeObject>(job: ArgumentsDeclaration<Args>, raw: unknown): Args {
  if (raw === undefined) {
    // A raw start with no input at all (the Temporal CLI without --input, the Web UI with an empty field).
    throw new InvalidJobArgumentsError(job.name, [
      { path: ROOT_PATH, message: 'are missing: pass one object of named fields' },
    ]);
  }
  const unsafe = findUnsafeValues(raw, job.maxArgumentBytes);
  if (unsafe.length > 0) throw new InvalidJobArgumentsError(job.name, unsafe);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidJobArgumentsError(job.name, [{ path: ROOT_PATH, message: 'must be an object of named fields' }]);
  }
  const parsed = job.args.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues: ArgumentIssue[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        issues.push({ path: formatPath([...issue.path, key]), message: 'is not an argument of this job' });
      }
    } else {
      issues.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  throw new InvalidJobArgumentsError(job.name, issues);
}
