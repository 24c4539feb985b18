import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isPriority, PRIORITIES, type Priority } from '../sandbox/queues';

/**
 * `jobctl new <job-name>`, the way `rails generate sidekiq:job` works: writes a job's two files and its test from a
 * template that runs as it stands — a schema, an idempotency key, a queue, one activity that reads fresh data — and
 * adds the job's line to `workflows/index.ts` and `activities/index.ts`. Refuses a bad or taken name before writing
 * anything. The templates use the library only through its entry points (`durable-jobs`, `durable-jobs/workflow`,
 * `durable-jobs/testing`), so they fit any application: one `jobctl init` wrote, or this repository's example. Where the
 * project records workflow histories for a replay test (`test/record-histories.ts`, as this repository does), the CLI
 * then records the new workflow's first one.
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
  /**
   * Records the job's first history for the replay test (test/record-histories.ts with the template's arguments), when
   * the project has that script; undefined otherwise.
   */
  recordHistory?: { command: string; args: string[] };
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
    test: testTemplate(names, applicationImport(options.root)),
  };
  fs.mkdirSync(path.join(options.root, 'test'), { recursive: true });
  for (const [kind, file] of Object.entries(files) as Array<[keyof typeof files, string]>) {
    fs.writeFileSync(path.join(options.root, file), contents[kind], { flag: 'wx' });
  }
  for (const file of indexes) addExportLine(path.join(options.root, file), `export * from './${name}';`);
  formatWithProjectPrettier(options.root, Object.values(files));
  const recordArgs = [RECORD_HISTORIES, '--job', name, '--args', JSON.stringify(TEMPLATE_EXAMPLE_ARGS)];
  return {
    created: Object.values(files),
    updated: indexes,
    ...(fs.existsSync(path.join(options.root, RECORD_HISTORIES))
      ? { recordHistory: { command: `npx tsx ${recordArgs.map(shellQuote).join(' ')}`, args: recordArgs } }
      : {}),
  };
}

/** The script that records workflow histories for a replay test, in projects that have one (this repository). */
const RECORD_HISTORIES = 'test/record-histories.ts';

/**
 * How the job's test (in test/) imports the application module: the file package.json's `"durable-jobs".app` names,
 * else app.ts or app.js at the root — the places `jobctl` looks, without --app and JOBS_APP, which belong to one run.
 */
function applicationImport(root: string): string {
  let file = path.join(root, 'app.ts');
  const packageJson = path.join(root, 'package.json');
  const field = fs.existsSync(packageJson)
    ? (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { 'durable-jobs'?: { app?: unknown } })['durable-jobs']?.app
    : undefined;
  if (typeof field === 'string') file = path.resolve(root, field);
  else if (!fs.existsSync(file) && fs.existsSync(path.join(root, 'app.js'))) file = path.join(root, 'app.js');
  const relative = path
    .relative(path.join(root, 'test'), file)
    .replace(/\\/g, '/')
    .replace(/\.[cm]?[jt]s$/, '');
  return relative.startsWith('.') ? relative : `./${relative}`;
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

/**
 * Adds the line after the last job's (`export * from './…'`); in an index with none yet, before the library's lines
 * (`export * from 'durable-jobs/health-check';` stays last), else at the end. One line per job.
 */
function addExportLine(file: string, line: string): void {
  const text = fs.readFileSync(file, 'utf8');
  if (text.includes(line)) return;
  const lines = text.trim() === '' ? [] : text.replace(/\n+$/, '').split('\n');
  const lastJob = lines.map((l) => /^export \* from '\.\.?\//.test(l)).lastIndexOf(true);
  const library = lines.findIndex((l) => /^export \* from 'durable-jobs[/']/.test(l));
  const at = lastJob !== -1 ? lastJob + 1 : library !== -1 ? library : lines.length;
  lines.splice(at, 0, line);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/**
 * Formats the new files with the project's own Prettier and its settings, when it has one (this repository does), so
 * they pass its format check whatever the job's name; otherwise they stay as the templates wrote them.
 */
function formatWithProjectPrettier(root: string, files: string[]): void {
  let prettier: string;
  try {
    prettier = path.join(path.dirname(require.resolve('prettier/package.json', { paths: [root] })), 'bin/prettier.cjs');
  } catch {
    return;
  }
  if (!fs.existsSync(prettier)) return;
  spawnSync(process.execPath, [prettier, '--write', '--log-level', 'warn', ...files], { cwd: root, stdio: 'ignore' });
}

function workflowTemplate({ kebab, camel, pascal }: JobNames, queue: Priority): string {
  return `import { z } from 'zod';
import type { create${pascal}Activities, ${pascal}Result } from '../activities/${kebab}';
import { databaseActivity, defineJob, proxyJobActivities, recordId } from 'durable-jobs/workflow';

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
  activities: {
    // Database work: short attempts, backoff from 1 s, a missing record is never retried. For a call to an external
    // service, give it its own options, a retry table (retry) and a rate limit (rateLimit) here.
    ${camel}: { options: databaseActivity },
  },
});

type Activities = ReturnType<typeof create${pascal}Activities>;
const activities: Activities = proxyJobActivities(${camel});

export async function ${camel}Workflow({ userId }: z.infer<typeof args>): Promise<${pascal}Result> {
  return await activities.${camel}(userId);
}
`;
}

function activitiesTemplate({ camel, pascal }: JobNames): string {
  return `import { recordNotFound, type ActivityContext } from 'durable-jobs';

export interface ${pascal}Deps {
  /** The application database (Kysely). */
  db: ActivityContext['db'];
}

export interface ${pascal}Result {
  userId: number;
  email: string;
}

export function create${pascal}Activities({ db }: ${pascal}Deps) {
  return {
    /**
     * Reads the user fresh (it may have changed since enqueue). TODO: do the work; check state first and pass an
     * idempotency key to external services, so a retried attempt never does the work twice.
     */
    async ${camel}(userId: number): Promise<${pascal}Result> {
      const user = await db.selectFrom('users').select(['id', 'email']).where('id', '=', userId).executeTakeFirst();
      if (!user) throw recordNotFound('user', userId);
      return { userId: user.id, email: user.email };
    },
  };
}
`;
}

function testTemplate({ kebab, camel }: JobNames, app: string): string {
  return `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidJobArgumentsError } from 'durable-jobs';
import { createTestEnvironment, type TestEnvironment } from 'durable-jobs/testing';
import app from '${app}';
import { ${camel} } from '../workflows/${kebab}';

describe('${kebab}', () => {
  // Its own Temporal server (in memory), database and worker of the application.
  let t: TestEnvironment;

  beforeAll(async () => {
    t = await createTestEnvironment({ application: app });
  });
  afterAll(() => t?.close());

  it('runs once per user, reading the user when it runs', async () => {
    await t.database.db
      .insertInto('users')
      .values({ id: 1, email: 'user1@example.com', name: 'User 1', created_at: new Date().toISOString() })
      .execute();
    const result = await t.run(${camel}, { userId: 1 });
    expect(result).toEqual({ userId: 1, email: 'user1@example.com' });
    const again = await t.client.enqueue(${camel}, { userId: 1 });
    expect(again).toMatchObject({ workflowId: '${kebab}/1', duplicate: true });
    expect(t.calls.get('${camel}')).toBe(1);
    // TODO: once the activity does its work, check that running it again does it once: checkIdempotentActivity
    // from durable-jobs/testing, with a function that counts its effects.
  });

  it('refuses bad arguments at enqueue, naming the field', async () => {
    await expect(t.client.enqueue(${camel}, { userId: -1 })).rejects.toBeInstanceOf(InvalidJobArgumentsError);
  });
});
`;
}
