import {
  ApplicationFailure,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { ErrorType } from './error-types';
import { jobs } from './jobs';
import { InvalidJobArgumentsError } from './safe-arguments';
import { validateJobArguments } from './validate-arguments';

/**
 * The job guards its own door. Whoever starts a job's workflow — `JobClient`, the raw `@temporalio/client`, the
 * Temporal CLI, the Web UI, another language's SDK — its first argument is checked against the job's declaration
 * before the workflow body runs. Invalid arguments fail the run at once, non-retryably, with an
 * `InvalidJobArguments` failure naming each field (the issues are its details); no activity is scheduled.
 *
 * A workflow module for the worker's bundle (`workflowInterceptorModules`): deterministic, parsing only. Runs that
 * are not jobs (an export slice child) pass through; a continued-as-new run is checked like the first.
 */
class ArgumentValidation implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const job = jobs.find((j) => j.workflowType === workflowInfo().workflowType);
    if (!job) return next(input);
    let args: unknown;
    try {
      args = validateJobArguments(job, input.args[0]);
    } catch (err) {
      if (!(err instanceof InvalidJobArgumentsError)) throw err;
      throw ApplicationFailure.create({
        type: ErrorType.InvalidJobArguments,
        message: err.message,
        nonRetryable: true,
        details: [{ job: err.job, issues: err.issues }],
      });
    }
    return next({ ...input, args: [args, ...input.args.slice(1)] });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new ArgumentValidation()] });
