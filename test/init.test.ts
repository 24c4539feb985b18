import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobctlNodeArgs, runCommand as run } from './jobctl';

const ROOT = path.resolve(__dirname, '..');
const library = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};

const FILES = [
  'package.json',
  'tsconfig.json',
  'vitest.config.mts',
  '.gitignore',
  'README.md',
  'app.ts',
  'workflows/index.ts',
  'workflows/send-greeting.ts',
  'activities/index.ts',
  'activities/send-greeting.ts',
  'test/send-greeting.test.ts',
];

/**
 * `jobctl init <dir>` writes an application that depends on durable-jobs. Here its TypeScript is checked, and its test
 * run, against this repository's sources (`durable-jobs` mapped to src/, as the repository's own tsconfig and vitest
 * config do); installing it from the packed library is the packaging test's part.
 */
describe('jobctl init <dir>', () => {
  let parent: string;
  let app: string;

  beforeAll(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-init-'));
    app = path.join(parent, 'My Jobs');
  });
  afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

  it('writes the application into a new directory and prints what it wrote and what to run next', async () => {
    const init = await run(process.execPath, [...jobctlNodeArgs(), 'init', 'My Jobs'], parent);
    expect(init, init.stderr).toMatchObject({ code: 0, stderr: '' });
    for (const file of FILES) {
      expect(init.stdout).toContain(`created  ${path.join('My Jobs', file)}\n`);
      expect(fs.existsSync(path.join(app, file)), file).toBe(true);
    }
    expect(init.stdout).toContain("cd 'My Jobs' && npm install && npm start\n");
    expect(init.stdout).toContain(`npx jobctl enqueue send-greeting '{"userId":1}' --wait`);

    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({
      name: 'my-jobs',
      private: true,
      scripts: { start: 'jobctl dev', test: 'vitest run', typecheck: 'tsc --noEmit', jobctl: 'jobctl' },
      allowScripts: library.allowScripts,
    });
    expect(pkg.dependencies).toEqual({ 'durable-jobs': `^${library.version}`, zod: library.dependencies.zod });
    expect(pkg.devDependencies).toEqual({
      '@types/node': library.devDependencies['@types/node'],
      typescript: library.devDependencies.typescript,
      vitest: library.devDependencies.vitest,
    });
    expect(fs.readFileSync(path.join(app, '.gitignore'), 'utf8').split('\n')).toEqual(
      expect.arrayContaining(['node_modules/', '.data/']),
    );
    // The application uses the library through its entry points only.
    const imports = FILES.filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...fs.readFileSync(path.join(app, f), 'utf8').matchAll(/from '(durable-jobs[^']*)'/g)])
      .map((m) => m[1]);
    expect(new Set(imports)).toEqual(
      new Set(['durable-jobs', 'durable-jobs/workflow', 'durable-jobs/health-check', 'durable-jobs/testing']),
    );
  });

  it('takes the durable-jobs dependency from --durable-jobs', async () => {
    const dir = path.join(parent, 'from-tarball');
    const init = await run(
      process.execPath,
      [...jobctlNodeArgs(), 'init', dir, '--durable-jobs', 'file:../durable-jobs.tgz'],
      parent,
    );
    expect(init.code, init.stderr).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(pkg.dependencies['durable-jobs']).toBe('file:../durable-jobs.tgz');
    expect(pkg.name).toBe('from-tarball');
  });

  it('refuses a directory that is not empty, naming it, and writes nothing', async () => {
    const dir = path.join(parent, 'taken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const init = await run(process.execPath, [...jobctlNodeArgs(), 'init', dir], parent);
    expect(init).toMatchObject({ code: 1, stdout: '' });
    expect(init.stderr).toBe(
      `jobctl: ${dir} is not empty (notes.txt): jobctl init writes a new application into a new or empty directory\n`,
    );
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('takes a job from `jobctl new` (no history to record there), type-checks, and its tests pass', async () => {
    const added = await run(process.execPath, [...jobctlNodeArgs(), 'new', 'sync-crm-contact'], app);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toBe(
      [
        'created  workflows/sync-crm-contact.ts',
        'created  activities/sync-crm-contact.ts',
        'created  test/sync-crm-contact.test.ts',
        'updated  workflows/index.ts',
        'updated  activities/index.ts',
        '',
        'Next: fill in the TODOs, then npm test.',
        '',
      ].join('\n'),
    );
    expect(fs.readFileSync(path.join(app, 'workflows/index.ts'), 'utf8')).toMatch(
      /export \* from '\.\/send-greeting';\nexport \* from '\.\/sync-crm-contact';\nexport \* from 'durable-jobs\/health-check';\n$/,
    );

    // durable-jobs resolves to this repository's sources; everything else from its node_modules.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
    fs.writeFileSync(
      path.join(app, 'tsconfig.check.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: {
          paths: {
            'durable-jobs': [path.join(ROOT, 'src/index.ts')],
            'durable-jobs/*': [path.join(ROOT, 'src/*.ts')],
          },
        },
      }),
    );
    const typecheck = await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.check.json'],
      app,
    );
    expect(typecheck.stdout + typecheck.stderr).toBe('');
    expect(typecheck.code).toBe(0);

    fs.writeFileSync(
      path.join(app, 'vitest.check.mts'),
      [
        "import { mergeConfig } from 'vitest/config';",
        "import base from './vitest.config.mts';",
        `import { libraryAlias } from ${JSON.stringify(path.join(ROOT, 'test/library-alias.mts'))};`,
        'export default mergeConfig(base, { resolve: { alias: libraryAlias } });',
        '',
      ].join('\n'),
    );
    const tests = await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.check.mts'],
      app,
      { NO_COLOR: '1', FORCE_COLOR: '0', JOBS_APP: '' },
    );
    expect(tests.code, tests.stdout + tests.stderr).toBe(0);
    expect(tests.stdout).toMatch(/Test Files\s+2 passed \(2\)/);
    expect(tests.stdout).toMatch(/Tests\s+(\d+) passed \(\1\)/);
  }, 240_000);
});
