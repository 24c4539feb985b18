/**
 * The files `jobctl init` writes: an application that depends on `durable-jobs` from node_modules and uses it only
 * through the package's entry points, with one real job (`send-greeting`), its test and a README. Kept as strings in
 * a module (not as files next to it) so they ship with the library however it is built.
 */

/** What the templates are filled in with. */
export interface InitTemplateValues {
  /** The package name (from the directory). */
  name: string;
  /** Versions (specs) of the packages the application depends on. */
  versions: {
    durableJobs: string;
    zod: string;
    typescript: string;
    vitest: string;
    typesNode: string;
  };
  /** Packages whose install scripts npm may run (`allowScripts`). */
  allowScripts: Record<string, boolean>;
}

/** The job the new application starts with. */
export const INIT_JOB = 'send-greeting';

export function initTemplates(v: InitTemplateValues): Record<string, string> {
  return {
    'package.json': packageJson(v),
    'tsconfig.json': TSCONFIG,
    'vitest.config.mts': VITEST_CONFIG,
    '.gitignore': 'node_modules/\n.data/\n',
    'README.md': readme(v.name),
    'app.ts': APP,
    'workflows/index.ts': WORKFLOWS_INDEX,
    'workflows/send-greeting.ts': WORKFLOW,
    'activities/index.ts': ACTIVITIES_INDEX,
    'activities/send-greeting.ts': ACTIVITY,
    'test/send-greeting.test.ts': TEST,
  };
}

function packageJson(v: InitTemplateValues): string {
  const pkg = {
    name: v.name,
    version: '0.1.0',
    private: true,
    description: 'Background jobs on Temporal, with durable-jobs.',
    engines: { node: '>=20' },
    scripts: {
      start: 'jobctl dev',
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
      jobctl: 'jobctl',
    },
    dependencies: { 'durable-jobs': v.versions.durableJobs, zod: v.versions.zod },
    devDependencies: {
      '@types/node': v.versions.typesNode,
      typescript: v.versions.typescript,
      vitest: v.versions.vitest,
    },
    // npm runs the install scripts of these packages only (native modules: the database driver, the bundler's compilers,
    // Temporal's protobufs).
    allowScripts: v.allowScripts,
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "node16",
    "moduleResolution": "node16",
    "lib": ["ES2022"],
    "types": ["node"],
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "esModuleInterop": true,
    "skipLibCheck": true,
    "isolatedModules": true,
    "noEmit": true
  },
  "include": ["app.ts", "workflows", "activities", "test", "vitest.config.mts"]
}
`;

const VITEST_CONFIG = `import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file starts its own Temporal server and worker (durable-jobs/testing), which bundles the workflows.
    hookTimeout: 120_000,
    testTimeout: 60_000,
  },
});
`;

const APP = `import path from 'node:path';
import { defineApplication, type ActivityContext } from 'durable-jobs';
import * as activityModules from './activities';
import './workflows'; // declares the jobs in every process that loads the application (CLI, worker, tests)

/**
 * Every job's activities: each \`activities/<job>.ts\` exports \`create<Job>Activities(deps)\`, listed in
 * activities/index.ts. Throws if two jobs register an activity under the same name.
 */
export function createActivities(context: ActivityContext): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (const [factoryName, factory] of Object.entries(activityModules)) {
    if (!/^create\\w+Activities$/.test(factoryName) || typeof factory !== 'function') continue;
    for (const [name, fn] of Object.entries((factory as (deps: ActivityContext) => object)(context))) {
      if (name in all) throw new TypeError(\`activity "\${name}" is registered twice (again by \${factoryName})\`);
      all[name] = fn;
    }
  }
  return all;
}

/**
 * This application, for \`jobctl\` (\`npm start\`, \`npx jobctl worker\`, …) and the tests: its jobs (workflows/), their
 * activities (activities/), and its tables. The database is SQLite in .data/ unless DATABASE_URL points at PostgreSQL.
 */
export default defineApplication({
  workflowsPath: path.join(__dirname, 'workflows'),
  activities: (context) => createActivities(context),
  // Run in name order after the library's own; never edit one that has shipped: add the next.
  migrations: (dialect) => ({
    '0001_users_and_greetings': {
      async up(db) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('greetings')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          // One greeting per user: the database refuses a second even if two attempts race.
          .addColumn('user_id', 'integer', (c) => c.notNull().unique().references('users.id'))
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('sent_at', 'text', (c) => c.notNull())
          .execute();
      },
      async down(db) {
        await db.schema.dropTable('greetings').execute();
        await db.schema.dropTable('users').execute();
      },
    },
  }),
  // Demo data for \`npm start\`: users 1..count, when there are none.
  seed: async (db, count = 10) => {
    if ((await db.selectFrom('users').select('id').limit(1).execute()).length > 0) return undefined;
    const createdAt = new Date().toISOString();
    const users = Array.from({ length: count }, (_, i) => ({
      id: i + 1,
      email: \`user\${i + 1}@example.com\`,
      name: \`User \${i + 1}\`,
      created_at: createdAt,
    }));
    await db.insertInto('users').values(users).execute();
    return \`\${count} users\`;
  },
  // What \`npm start\` suggests trying.
  dev: async () => ({
    examples: [\`npx jobctl enqueue send-greeting '{"userId":1}' --wait\`, 'npx jobctl status send-greeting/1'],
    stop: async () => {},
  }),
});
`;

const WORKFLOWS_INDEX = `/**
 * Every job of this application, one line each: a job's file exports its declaration (\`defineJob\`) and its workflow
 * function. The worker bundles this module, and loading it declares the jobs. The last line adds the library's health
 * check job (failure-rate, backlog and no-worker alerts, every minute).
 */
export * from './send-greeting';
export * from 'durable-jobs/health-check';
`;

const ACTIVITIES_INDEX = `/**
 * Every job's activities, one line each: \`activities/<job>.ts\` exports \`create<Job>Activities(deps)\`, which app.ts
 * calls with the database and the settings.
 */
export * from './send-greeting';
`;

const WORKFLOW = `import { z } from 'zod';
import type { createSendGreetingActivities, GreetingResult } from '../activities/send-greeting';
import { databaseActivity, defineJob, proxyJobActivities, recordId } from 'durable-jobs/workflow';

/** Safe arguments: only the user id travels; the activity reads the user when it runs. */
const args = z.strictObject({ userId: recordId });

/**
 * Greets a user once, however often it is enqueued or retried: the workflow ID is the user's, so a second enqueue
 * attaches to the first run, and the activity checks for a greeting before it records one.
 */
export const sendGreeting = defineJob({
  name: 'send-greeting',
  description: 'Greet a user once, however often it is enqueued or retried.',
  workflow: sendGreetingWorkflow,
  queue: 'default',
  args,
  // Two enqueues with the same key are one job: the workflow ID is 'send-greeting/<userId>'.
  idempotencyKey: ({ userId }) => String(userId),
  activities: {
    // Database work: short attempts, backoff from 1 s, a missing user is never retried.
    recordGreeting: { options: databaseActivity },
  },
});

const { recordGreeting }: ReturnType<typeof createSendGreetingActivities> = proxyJobActivities(sendGreeting);

export async function sendGreetingWorkflow({ userId }: z.infer<typeof args>): Promise<GreetingResult> {
  return await recordGreeting(userId);
}
`;

const ACTIVITY = `import { recordNotFound, type ActivityContext } from 'durable-jobs';

export interface SendGreetingDeps {
  /** The application database (Kysely). */
  db: ActivityContext['db'];
}

export interface GreetingResult {
  userId: number;
  greetingId: number;
  message: string;
  /** True when an earlier attempt or run had greeted the user already, and this one did nothing. */
  alreadySent: boolean;
}

export function createSendGreetingActivities({ db }: SendGreetingDeps) {
  return {
    /**
     * Check the state first, then do the work, in one transaction: a user who has a greeting is not greeted again, so
     * an attempt that is retried (or runs again after a crash that followed its insert) records nothing twice.
     */
    async recordGreeting(userId: number): Promise<GreetingResult> {
      return await db.transaction().execute(async (trx) => {
        const user = await trx.selectFrom('users').select(['id', 'name']).where('id', '=', userId).executeTakeFirst();
        if (!user) throw recordNotFound('user', userId);
        const sent = await trx
          .selectFrom('greetings')
          .select(['id', 'message'])
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (sent) return { userId, greetingId: sent.id, message: sent.message, alreadySent: true };
        const message = \`Hello, \${user.name}!\`;
        const { id } = await trx
          .insertInto('greetings')
          .values({ user_id: userId, message, sent_at: new Date().toISOString() })
          .returning('id')
          .executeTakeFirstOrThrow();
        return { userId, greetingId: id, message, alreadySent: false };
      });
    },
  };
}
`;

const TEST = `import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidJobArgumentsError } from 'durable-jobs';
import { checkIdempotentActivity, createTestEnvironment, type TestEnvironment } from 'durable-jobs/testing';
import app from '../app';
import { createSendGreetingActivities } from '../activities/send-greeting';
import { sendGreeting } from '../workflows/send-greeting';

describe('send-greeting', () => {
  // Its own Temporal server (in memory), SQLite database and worker of this application.
  let t: TestEnvironment;

  beforeAll(async () => {
    t = await createTestEnvironment({ application: app });
  });
  afterAll(() => t?.close());

  async function createUser(id: number, name: string): Promise<void> {
    await t.database.db
      .insertInto('users')
      .values({ id, email: \`user\${id}@example.com\`, name, created_at: new Date().toISOString() })
      .execute();
  }

  async function greetingsOf(userId: number): Promise<number> {
    const rows = await t.database.db.selectFrom('greetings').select('id').where('user_id', '=', userId).execute();
    return rows.length;
  }

  it('greets a user once, however often it is enqueued', async () => {
    await createUser(1, 'Ada');
    const result = await t.run(sendGreeting, { userId: 1 });
    expect(result).toMatchObject({ userId: 1, message: 'Hello, Ada!', alreadySent: false });
    const again = await t.client.enqueue(sendGreeting, { userId: 1 });
    expect(again).toMatchObject({ workflowId: 'send-greeting/1', duplicate: true });
    expect(await greetingsOf(1)).toBe(1);
  });

  it('records one greeting however often its activity runs: retried, or again after a crash', async () => {
    await createUser(2, 'Grace');
    const { recordGreeting } = createSendGreetingActivities({ db: t.database.db });
    const check = await checkIdempotentActivity(recordGreeting, [2], { effects: () => greetingsOf(2) });
    expect(check).toMatchObject({ once: 1, again: 1 });
  });

  it('fails without retrying for a user that does not exist', async () => {
    const before = t.calls.get('recordGreeting') ?? 0;
    await expect(t.run(sendGreeting, { userId: 404 })).rejects.toThrow();
    expect(t.calls.get('recordGreeting')).toBe(before + 1);
  });

  it('refuses bad arguments at enqueue, naming the field', async () => {
    await expect(t.client.enqueue(sendGreeting, { userId: -1 })).rejects.toBeInstanceOf(InvalidJobArgumentsError);
  });
});
`;

function readme(name: string): string {
  return `# ${name}

Background jobs on [Temporal](https://temporal.io) with durable-jobs:
jobs that survive crashes and restarts, are retried by rules, and run once per idempotency key however often they are
enqueued.

It starts with one job, \`send-greeting\`: it greets a user (\`{ "userId": 1 }\`) by recording a greeting row, once.

## Commands

| Command | What it does |
| --- | --- |
| \`npm install\` | installs durable-jobs, zod, TypeScript and vitest |
| \`npm start\` | \`jobctl dev\`: a local Temporal server with its Web UI, a worker, the HTTP service; seeds 10 users |
| \`npx jobctl enqueue send-greeting '{"userId":1}' --wait\` | runs the job (in another terminal) and waits for it |
| \`npx jobctl status send-greeting/1\` | one run's status, result or error |
| \`npx jobctl list\`, \`npx jobctl dead\` | recent runs; the ones that failed for good |
| \`npm test\` | the tests: each file gets its own Temporal server, database and worker (\`durable-jobs/testing\`) |
| \`npm run typecheck\` | \`tsc --noEmit\` |
| \`npx jobctl --help\` | every command |

The first \`npm start\` needs a Temporal CLI: \`jobctl\` uses \`temporal\` on your PATH, or builds one with Go, or
downloads one.

## Layout

- \`app.ts\`: the application: where its jobs and activities are, its tables (migrations) and demo data.
- \`workflows/<job>.ts\`: a job's declaration (\`defineJob\`: name, arguments schema, idempotency key, queue) and its
  workflow. Workflow code runs in Temporal's sandbox: no I/O; import only \`durable-jobs/workflow\`, \`zod\` and
  other workflow files (types of activities with \`import type\`).
- \`activities/<job>.ts\`: the work, with the database (\`db\`, Kysely) and the settings. Check the state first, so
  that an attempt that runs again does nothing twice.
- \`test/<job>.test.ts\`: the job end to end on a real Temporal server (\`createTestEnvironment\`), and its activity
  run again as a retry and after a crash would (\`checkIdempotentActivity\`).

## Adding a job

\`\`\`sh
npx jobctl new sync-crm-contact          # or: --queue high
\`\`\`

writes \`workflows/sync-crm-contact.ts\`, \`activities/sync-crm-contact.ts\` and \`test/sync-crm-contact.test.ts\`, and
adds the job to \`workflows/index.ts\` and \`activities/index.ts\`. Fill in its TODOs, then \`npm test\`.
`;
}
