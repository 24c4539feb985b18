// ESLint flat config. Formatting is Prettier's job (.prettierrc.json); this file is about code that is wrong.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Escapes a module name for use inside a RegExp. */
const escape = (name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// Three disjoint groups, so that a refused import gets exactly one message: the one that says why.
const nodeBuiltin = `node:.*|(?:${builtinModules.map(escape).join('|')})(?:/.*)?`;
const activities = `(?:\\.{1,2}/)+(?:.*/)?activities(?:/.*)?`;
const workflowSafe = [
  '@temporalio/workflow(?:/.*)?',
  '@temporalio/common(?:/.*)?',
  'zod(?:/.*)?',
  // The library's sandbox entry point (job declarations, proxies, retry tables) and its opt-in health check job.
  'durable-jobs/workflow',
  'durable-jobs/health-check',
  // Relative imports: siblings (other workflows; in the library, the other sandbox modules).
  '\\./(?!.*\\.\\./).*',
].join('|');

const sandbox = "Workflow code runs in Temporal's deterministic sandbox (replayed from history, no I/O).";

/**
 * Workflow files may import only what is safe inside the sandbox. Type-only imports of anything are allowed (they are
 * erased), which is how a workflow names its activities: `import type { Activities } from '../activities'`.
 */
const workflowImports = {
  patterns: [
    {
      regex: `^(?:${nodeBuiltin})$`,
      caseSensitive: true,
      allowTypeImports: true,
      message: `Node built-ins are not available to workflows. ${sandbox} Do I/O in an activity.`,
    },
    {
      regex: `^${activities}$`,
      caseSensitive: true,
      allowTypeImports: true,
      message: `Activities pull in Node code and run in the worker, not in the workflow. ${sandbox} Use \`import type\` and call them through proxyActivities.`,
    },
    {
      regex: `^(?!(?:${nodeBuiltin})$)(?!${activities}$)(?!(?:${workflowSafe})$).*$`,
      caseSensitive: true,
      allowTypeImports: true,
      message: `Not on the workflow allow-list (@temporalio/workflow, @temporalio/common, zod, durable-jobs/workflow, ./*). ${sandbox}`,
    },
  ],
};

export default defineConfig(
  {
    ignores: [
      '.data/',
      'coverage/',
      'test/.artifacts/',
      'test/histories/',
      '.stryker-tmp/',
      'reports/',
      'dist/',
      'build/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        // Typed linting, for the promise rules below; uses tsconfig.json.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A forgotten `await` loses errors and ordering; `void promise` says "on purpose".
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `any` is used on purpose where a type cannot say it better: `JobDefinition<any>` for a list of jobs with
      // different argument types, `Kysely<any>` in migrations (which must not depend on today's schema). `strict`
      // already rules out implicit any; turning this on would only add `unknown` casts or disable comments.
      '@typescript-eslint/no-explicit-any': 'off',
      // `_name` marks a parameter kept for its position (callbacks, interface implementations).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // JavaScript files are not in tsconfig.json: no type information for them.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // bin/jobctl.js is CommonJS on purpose: it loads the compiled CLI (dist/), or says that there is none.
    files: ['bin/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Every file that runs in the workflow sandbox: the application's workflows, the library's sandbox modules, the
    // bare-SDK baseline of the throughput benchmark.
    files: ['workflows/**/*.ts', 'src/sandbox/**/*.ts', 'test/fixtures/*workflows*.ts', 'bench/bare-sdk/workflows.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', workflowImports] },
  },
  {
    // The example application uses the library only through the package's entry points, as a user's application does.
    files: ['workflows/**/*.ts', 'activities/**/*.ts', 'app.ts'],
    ignores: ['test/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?:\\.{1,2}/)+src(?:/.*)?$',
              message:
                "The application reaches the library through its entry points: 'durable-jobs', 'durable-jobs/workflow', " +
                "'durable-jobs/worker', 'durable-jobs/testing', 'durable-jobs/health-check'.",
            },
          ],
        },
      ],
    },
  },
);
