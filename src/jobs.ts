import * as declared from '../workflows';
import { UnknownJobError } from './errors';
import { isJobDefinition, type DeclaredJob } from './job-definition';

/**
 * Every job the system knows, collected from the declarations `workflows/index.ts` exports (in its order). The CLI,
 * the HTTP service, the client and the worker read this list. Pure: the workflow sandbox reads it too.
 */
export const jobs: readonly DeclaredJob<any>[] = Object.values(declared).filter(isJobDefinition);

const names = new Set<string>();
for (const job of jobs) {
  if (names.has(job.name)) throw new TypeError(`job name "${job.name}" is declared twice`);
  names.add(job.name);
}

export function findJob(name: string): DeclaredJob<any> | undefined {
  return jobs.find((job) => job.name === name);
}

/** The job by name, or `UnknownJobError` listing the known ones. */
export function findJobOrThrow(name: string): DeclaredJob<any> {
  const job = findJob(name);
  if (!job)
    throw new UnknownJobError(
      name,
      jobs.map((j) => j.name),
    );
  return job;
}

/**
 * The job a run belongs to: by its workflow type (so a run started raw, with any workflow ID, is still its job), else
 * by its workflow ID's `<job-name>/` prefix (a child such as an export slice belongs to its parent's job).
 */
export function jobOfRun(run: { workflowType?: string; workflowId?: string }): DeclaredJob<any> | undefined {
  const byType = jobs.find((job) => job.workflowType === run.workflowType);
  if (byType || !run.workflowId) return byType;
  return findJob(run.workflowId.slice(0, run.workflowId.indexOf('/')));
}
