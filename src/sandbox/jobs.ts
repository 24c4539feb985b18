import { UnknownJobError } from './errors';
import { declaredJobs, type DeclaredJob } from './job-definition';

/**
 * Every job the application declared (`defineJob` registers it), in declaration order. The CLI, the HTTP service, the
 * client and the worker read this list; in the workflow sandbox it holds the jobs of the bundled workflows module.
 * Live: a job declared later (a test's own job) appears here too.
 */
export const jobs: readonly DeclaredJob<any>[] = declaredJobs;

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
