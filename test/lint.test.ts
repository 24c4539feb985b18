import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The lint guards of eslint.config.mjs, run for real: the project's config file is copied into a scratch project
 * (a minimal tsconfig.json, node_modules linked to ours) next to a few tiny files, and ESLint lints them with type
 * information, as `npm run lint` does.
 */
const root = path.resolve(__dirname, '..');

const files: Record<string, string> = {
  'activities/mail.ts': `
    export function createMailActivities() {
      return { async sendMail(to: string): Promise<string> { return to; } };
    }
    export type MailActivities = ReturnType<typeof createMailActivities>;
  `,
  'src/pure.ts': `export const timeoutMs = 1000;\n`,
  // What every workflow of the project looks like: SDK, zod, durable-jobs/workflow, sibling workflows, activity *types*.
  'workflows/clean.ts': `
    import { proxyActivities } from '@temporalio/workflow';
    import { z } from 'zod';
    import type { MailActivities } from '../activities/mail';
    import { type createMailActivities } from '../activities/mail';
    import { seconds } from 'durable-jobs/workflow';
    import { greeting } from './sibling';

    const { sendMail } = proxyActivities<MailActivities>({ startToCloseTimeout: seconds(1) });
    export type Factory = typeof createMailActivities;

    export async function cleanWorkflow(to: unknown): Promise<string> {
      return await sendMail(z.string().parse(to) + greeting);
    }
  `,
  'workflows/sibling.ts': `export const greeting = 'hi';\n`,
  'workflows/node-builtins.ts': `
    import { readFileSync } from 'node:fs';
    import { join } from 'path';
    import { randomUUID } from 'crypto';
    import type { Stats } from 'fs';

    export const stat: Stats | undefined = undefined;
    export function builtins() {
      return [readFileSync, join, randomUUID];
    }
  `,
  'workflows/activity-value.ts': `
    import { createMailActivities } from '../activities/mail';

    export const activities = createMailActivities;
  `,
  'workflows/worker-side-packages.ts': `
    import pino from 'pino';
    import { Worker } from '@temporalio/worker';
    import { Client } from '@temporalio/client';
    import { Context } from '@temporalio/activity';

    export const notForWorkflows = [pino, Worker, Client, Context];
  `,
  // Not a workflow: the floating-promise rule applies everywhere.
  'src/forgot-await.ts': `
    async function save(): Promise<void> {}

    export async function handler(): Promise<void> {
      save();
      await save();
      void save();
    }
  `,
};

let dir: string;
const results = new Map<string, Linter.LintMessage[]>();

/** The problems ESLint reported in one scratch file, as `line rule: message`. */
function problems(file: string): string[] {
  const messages = results.get(file);
  if (!messages) throw new Error(`${file} was not linted`);
  return messages.map((m) => `${m.line} ${m.ruleId ?? 'fatal'}: ${m.message}`);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-lint-'));
  fs.copyFileSync(path.join(root, 'eslint.config.mjs'), path.join(dir, 'eslint.config.mjs'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const tsconfig = {
    compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true },
    include: ['src', 'workflows', 'activities'],
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text.replace(/^ {4}/gm, '').trimStart());
  }
  const eslint = new ESLint({ cwd: dir });
  for (const result of await eslint.lintFiles(['.'])) {
    results.set(path.relative(dir, result.filePath), result.messages);
  }
}, 60_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('lint guards', () => {
  it('lints every scratch file with the copied config', () => {
    expect([...results.keys()].sort()).toEqual([...Object.keys(files), 'eslint.config.mjs'].sort());
  });

  it('a workflow that imports a Node built-in (node:fs, or bare path/crypto) fails, naming the import and why', () => {
    expect(problems('workflows/node-builtins.ts')).toEqual([
      expect.stringMatching(
        /^1 @typescript-eslint\/no-restricted-imports: 'node:fs' .*Node built-ins.*deterministic sandbox/,
      ),
      expect.stringMatching(/^2 @typescript-eslint\/no-restricted-imports: 'path' .*Node built-ins/),
      expect.stringMatching(/^3 @typescript-eslint\/no-restricted-imports: 'crypto' .*Node built-ins/),
      // line 4, `import type { Stats } from 'fs'`, is erased at compile time: allowed.
    ]);
  });

  it('a workflow that value-imports an activity module fails; the message says to import its type', () => {
    expect(problems('workflows/activity-value.ts')).toEqual([
      expect.stringMatching(
        /^1 @typescript-eslint\/no-restricted-imports: '..\/activities\/mail' .*Activities pull in Node code.*import type/,
      ),
    ]);
  });

  it('a workflow that imports a worker-side package (pino, @temporalio/worker, client, activity) fails', () => {
    expect(problems('workflows/worker-side-packages.ts')).toEqual(
      ['pino', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'].map((name, i) =>
        expect.stringMatching(`^${i + 1} @typescript-eslint/no-restricted-imports: '${name}' `),
      ),
    );
    expect(problems('workflows/worker-side-packages.ts')[0]).toMatch(
      /Not on the workflow allow-list.*deterministic sandbox/,
    );
  });

  it('a workflow importing the SDK, zod, durable-jobs/workflow, a sibling and activity types passes', () => {
    expect(problems('workflows/clean.ts')).toEqual([]);
    expect(problems('workflows/sibling.ts')).toEqual([]);
  });

  it('a forgotten await is an error; awaited and explicitly voided promises are not', () => {
    expect(problems('src/forgot-await.ts')).toEqual([
      expect.stringMatching(/^4 @typescript-eslint\/no-floating-promises: /),
    ]);
  });
});
