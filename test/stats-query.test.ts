import { describe, expect, it } from 'vitest';
import { statsQuery } from '../src/client/stats';

describe('statsQuery', () => {
  it('builds one visibility query for the job types and the deployment queues', () => {
    expect(
      statsQuery({
        workflowTypes: ['invoiceGenerationWorkflow', 'noopWorkflow'],
        taskQueues: ["it's-default", 'jobs-low'],
        since: new Date('2026-11-28T10:00:00Z'),
        now: new Date('2026-11-28T11:00:00Z'),
      }),
    ).toBe(
      "WorkflowType IN ('invoiceGenerationWorkflow', 'noopWorkflow') AND TaskQueue IN ('it\\'s-default', 'jobs-low') " +
        "AND ExecutionStatus IN ('Completed', 'Failed', 'TimedOut') " +
        "AND CloseTime >= '2026-11-28T10:00:00.000Z' AND CloseTime <= '2026-11-28T11:00:00.000Z'",
    );
  });

  it('has no upper bound without `now`, and escapes backslashes and quotes in names', () => {
    expect(statsQuery({ workflowTypes: ['a\\b'], taskQueues: ["q'"], since: new Date('2026-11-28T10:00:00Z') })).toBe(
      "WorkflowType IN ('a\\\\b') AND TaskQueue IN ('q\\'') " +
        "AND ExecutionStatus IN ('Completed', 'Failed', 'TimedOut') AND CloseTime >= '2026-11-28T10:00:00.000Z'",
    );
  });

  it('selects the jobs by JobName or, for runs started before they carried it, by workflow type; and a tenant', () => {
    expect(
      statsQuery({
        jobs: [{ name: 'invoice-generation', workflowType: 'invoiceGenerationWorkflow' }],
        taskQueues: ['jobs-default'],
        since: new Date('2026-11-28T10:00:00Z'),
        tenant: "o'brien",
      }),
    ).toBe(
      "(JobName IN ('invoice-generation') OR WorkflowType IN ('invoiceGenerationWorkflow')) " +
        "AND TaskQueue IN ('jobs-default') AND ExecutionStatus IN ('Completed', 'Failed', 'TimedOut') " +
        "AND CloseTime >= '2026-11-28T10:00:00.000Z' AND TenantId = 'o\\'brien'",
    );
  });
});
