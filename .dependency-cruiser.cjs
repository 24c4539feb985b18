/* global module, require -- dependency-cruiser loads this file as CommonJS */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { builtinModules } = require('node:module');

/** Node built-ins as dependency-cruiser names them (`fs`, `fs/promises`, `node:fs`), for includeOnly below. */
const nodeBuiltins = [
  '^node:',
  `^(${builtinModules.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`,
];

// Dependency rules for the split into the library (src/, the npm package `durable-jobs`) and the example application
// (workflows/, activities/, app.ts, bench/). test/dependencies.test.ts runs them in `npm test`; by hand:
//   npx depcruise --config .dependency-cruiser.cjs src workflows activities
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'library-not-app',
      severity: 'error',
      comment:
        'src/ is the library, published as the package `durable-jobs`. It must not import the example application ' +
        '(workflows/, activities/ and its services under activities/services/, app.ts), the benchmarks (bench/) or ' +
        'the tests: none of them ship with the package, and a library that knows its application cannot be reused. ' +
        'The application hands its jobs, activities and services to the library instead.',
      from: { path: '^src/' },
      to: { path: ['^(workflows|activities|bench|test)/', '^app\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import circle makes module load order matter (a value read before its module has run is undefined) and ' +
        'ties the modules on it into one piece that cannot be split into library and application. Type-only imports ' +
        'count too (options.tsPreCompilationDeps): a type circle is the same design knot, and one `import type` ' +
        'turned into a value import makes it a load-order bug.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'app-through-entry-points',
      severity: 'error',
      comment:
        'The application (workflows/, activities/, app.ts) uses the library as its users will: through the ' +
        "package's entry points (`durable-jobs`, `durable-jobs/workflow`, `durable-jobs/worker`, " +
        '`durable-jobs/testing`), never by a relative path into src/, which would reach internals no user can. ' +
        "This rule catches relative imports only ('local' and not 'aliased'), so it holds whether the entry-point " +
        'names resolve through tsconfig `paths` (aliased-tsconfig-paths) or through a package.json `exports` ' +
        'self-reference.',
      // bench/ is contributor tooling, like test/: it measures the library's internals and may import them.
      from: { path: ['^(workflows|activities)/', '^app\\.ts$'] },
      // dependency-cruiser also tags an alias that resolves to a file in the repo as 'local', next to 'aliased'.
      to: { path: '^src/', dependencyTypes: ['local'], dependencyTypesNot: ['aliased'] },
    },
    {
      name: 'sandbox-no-node',
      severity: 'error',
      comment:
        "Workflow code (workflows/, src/sandbox/) runs in Temporal's deterministic workflow sandbox, which has no " +
        'Node built-ins (no fs, no network, no clock of its own): it is replayed from history. I/O belongs in an ' +
        'activity. A type-only import is erased before the code runs, so it is allowed, as in eslint.config.mjs.',
      from: { path: '^(workflows/|src/sandbox/)' },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // `import type` and other dependencies that exist only before compilation count, for no-circular above all.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    // The library, the application, the benchmarks (and test/, so that library-not-app sees src/ importing it); and
    // the Node built-ins, without which includeOnly would drop them and sandbox-no-node would never see one.
    includeOnly: ['^src/', '^workflows/', '^activities/', '^bench/', '^test/', '^app\\.ts$', ...nodeBuiltins],
    enhancedResolveOptions: {
      // So that a package.json `exports` self-reference (`durable-jobs/workflow`) resolves, should the repo use one.
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    skipAnalysisNotInRules: true,
  },
};
