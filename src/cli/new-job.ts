import fs from 'node:fs';
import path from 'node:path';
import { isPriority, PRIORITIES, type Priority } from '../sandbox/queues';

/**
 * `jobctl new <job-name>`, the way `rails generate sidekiq:job` works: writes a job's two files and its test from a
 * template that runs as it stands — a schema, an idempotency key, a queue, one activity that reads fresh data — and
 * adds the job's line to `workflows/index.ts` and `activities/index.ts`. Refuses a bad or taken name before writing
 * anything. The CLI then records the new workflow's first history (the replay test wants one of every workflow).
 */
export interface NewJobOptions {
  /** The project root (holds workflows/, activities/, test/). */
  root: string;
  /** @default 'default' */
  queue?: string;
}

export interface NewJobResult {
  /** Files written, relative to the root. */
  created: string[];
  /** Index files a line was added to. */
  updated: string[];
  /** Records the job's first history for the replay test (test/record-histories.ts with the template's arguments). */
  recordHistory: { command: string; args: string[] };
}

/** Arguments the template's job runs with when its first history is recorded (the recorder seeds user 1). */
const TEMPLATE_EXAMPLE_ARGS = { userId: 1 };

export function generateJob(name: string, options: NewJobOptions): NewJobResult {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
    throw new TypeError(
      `job name must be kebab-case (letters, digits, single dashes), like "sync-crm-contact"; got "${name}"`,
    );
  }
  const queue = options.queue ?? 'default';
  if (!isPriority(queue)) throw new TypeError(`--queue must be one of ${PRIORITIES.join(', ')}, got "${queue}"`);
  const files = {
    workflow: `workflows/${name}.ts`,
    activities: `activities/${name}.ts`,
    test: `test/${name}.test.ts`,
  };
  const indexes = ['workflows/index.ts', 'activities/index.ts'];
  for (const file of indexes) {
    if (!fs.existsSync(path.join(options.root, file)))
      throw new Error(`${file} not found under ${options.root}: not a durable-jobs project`);
  }
  const taken = Object.values(files).filter((file) => fs.existsSync(path.join(options.root, file)));
  if (taken.length > 0) throw new Error(`job "${name}" already exists: ${taken.join(', ')}`);

  const names = jobNames(name);
  const contents = {
    workflow: workflowTemplate(names, queue),
    activities: activitiesTemplate(names),
    test: testTemplate(names, queue),
  };
  for (const [kind, file] of Object.entries(files) as Array<[keyof typeof files, string]>) {
    fs.writeFileSync(path.join(options.root, file), contents[kind], { flag: 'wx' });
  }
  for (const file of indexes) addExportLine(path.join(options.root, file), `export * from './${name}';`);
  const recordArgs = ['test/record-histories.ts', '--job', name, '--args', JSON.stringify(TEMPLATE_EXAMPLE_ARGS)];
  return {
    created: Object.values(files),
    updated: indexes,
    recordHistory: { command: `npx tsx ${recordArgs.map(shellQuote).join(' ')}`, args: recordArgs },
  };
}

function shellQuote(arg: string): string {
  return /^[\w./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface JobNames {
  /** `sync-crm-contact` */
  kebab: string;
  /** `syncCrmContact`: the declaration and the activity */
  camel: string;
  /** `SyncCrmContact` */
  pascal: string;
}

function jobNames(kebab: string): JobNames {
  const pascal = kebab
    .split('-')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  return { kebab, camel: pascal[0]!.toLowerCase() + pascal.slice(1), pascal };
}

/** Appends after the last `export * from` line, so the index keeps one line per job. */
function addExportLine(file: string, line: string): void {
  const text = fs.readFileSync(file, 'utf8');
  if (text.includes(line)) return;
  const lines = text.replace(/\n+$/, '').split('\n');
  const last = lines.map((l) => l.startsWith('export * from ')).lastIndexOf(true);
  lines.splice(last + 1, 0, line);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

function workflowTemplate({ kebab, camel, pascal }: JobNames, queue: Priority): string {
  return `import { proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';
import type { create${pascal}Activities } from '../activities/${kebab}';
import { databaseActivity, defineJob, recordId } from 'durable-jobs/workflow';

/** Safe arguments: ids and small plain values; the activity reads fresh data when it runs. */
const args = z.strictObject({ userId: recordId });

/** TODO: say in one sentence why this job exists and what makes it safe to run twice. */
export const ${camel} = defineJob({
  name: '${kebab}',
  description: 'TODO: one sentence for \`jobctl jobs\`.',
  workflow: ${camel}Workflow,
  queue: '${queue}',
  args,
  // Two enqueues with the same key are one job: the workflow ID is '${kebab}/<key>'.
  idempotencyKey: ({ userId }) => String(userId),
});

// Database work: short attempts, backoff from 1 s, a missing record is never retried. For a call to an external
// service, give it its own options and a retry table here (see workflows/process-webhook.ts).
const activities = proxyActivities<ReturnType<typeof create${pascal}Activities>>(databaseActivity);

export async function ${camel}Workflow({ userId }: z.infer<typeof args>) {
  return await activities.${camel}(userId);
}
`;
}

function activitiesTemplate({ camel, pascal }: JobNames): string {
  return `import type { Database } from './services/schema';
import { recordNotFound } from 'durable-jobs';

export interface ${pascal}Deps {
  db: Database;
}

export function create${pascal}Activities({ db }: ${pascal}Deps) {
  return {
    /**
     * Reads the user fresh (it may have changed since enqueue). TODO: do the work; check state first and pass an
     * idempotency key to external services, so a retried attempt never does the work twice.
     */
    async ${camel}(userId: number): Promise<{ userId: number; email: string }> {
      const user = await db.selectFrom('users').select(['id', 'email']).where('id', '=', userId).executeTakeFirst();
      if (!user) throw recordNotFound('user', userId);
      return { userId: user.id, email: user.email };
    },
  };
}
`;
}

function testTemplate({ kebab, camel }: JobNames, queue: Priority): string {
  return `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidJobArgumentsError } from 'durable-jobs';
import { ${camel} } from './jobs';
import { createHarness, type Harness } from './harness';

describe('${kebab}', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers(['${queue}']);
  });
  afterAll(() => h?.close());

  it('runs once per user, reading the user when it runs', async () => {
    const [userId] = await h.createUsers(1, '2026-01-01');
    const first = await h.client.enqueue(${camel}, { userId: userId! });
    const again = await h.client.enqueue(${camel}, { userId: userId! });
    expect(again).toMatchObject({ workflowId: first.workflowId, duplicate: true });
    const result = await h.env.client.workflow.getHandle(first.workflowId).result();
    expect(result).toEqual({ userId, email: \`user\${userId}@example.com\` });
    expect(h.calls.get('${camel}')).toBe(1);
  });

  it('refuses bad arguments at enqueue, naming the field', async () => {
    await expect(h.client.enqueue(${camel}, { userId: -1 })).rejects.toBeInstanceOf(InvalidJobArgumentsError);
  });
});
`;
}
