import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Settings } from './config';
import type { AppMigrations } from './db/migrations';

/**
 * What an application hands the library: its jobs (the workflows module that declares them), its activities (one
 * factory over the services they need), and optionally its database migrations, demo data and dev-time fakes. The
 * library imports nothing of an application; `jobctl` finds this module by the convention below, and the worker,
 * the client and the HTTP service read the jobs it declares. Write it with `defineApplication` as the default export
 * of `app.ts` at the application's root.
 */
export interface Application<Deps extends object = any> {
  /**
   * Absolute path of the workflows module: every job's declaration (`defineJob`) and workflow function, exported.
   * Loading it declares the jobs; the worker bundles it for the workflow sandbox. A folder (its `index.ts` or
   * `index.js`) or a file, with or without its extension: usually `path.join(__dirname, 'workflows')`.
   */
  readonly workflowsPath: string;
  /**
   * Builds every activity the jobs call, by name, from the application database and the settings; `overrides` are
   * what a test or benchmark hands in (a fake client, a hook), spread over the application's own services.
   */
  readonly activities: (context: ActivityContext & Partial<Deps>) => Record<string, unknown>;
  /**
   * The application's own tables: Kysely migrations by name for a dialect (`'sqlite'` or `'postgres'`), run in name
   * order after the library's own, with Kysely's default migration table. @default none
   */
  readonly migrations?: AppMigrations;
  /**
   * Demo data for `npm start` and `jobctl seed`: inserts `count` records if the database is empty and says what it
   * did in a few words (`"100 users and invoices"`), or returns undefined when there was data already. @default none
   */
  readonly seed?: (db: Kysely<any>, count?: number) => Promise<string | undefined>;
  /**
   * What `jobctl dev` (`npm start`) and `jobctl stack` start next to Temporal for this application — local fakes of
   * the external services it calls — with the environment that points its workers at them and lines for the banner.
   * @default nothing
   */
  readonly dev?: (options: DevOptions) => Promise<DevServices>;
}

/** What every activity factory is handed. */
export interface ActivityContext {
  /** The application database, migrated (SQLite by default, PostgreSQL with DATABASE_URL). */
  readonly db: Kysely<any>;
  readonly settings: Settings;
}

/** How `Application.dev` is asked to start its services. */
export interface DevOptions {
  /**
   * Any free port rather than the fixed ones `npm start` documents: `jobctl stack`, which may run beside a `jobctl dev`.
   */
  readonly anyPort: boolean;
}

/** Dev-time services of an application (`Application.dev`). */
export interface DevServices {
  /** Environment variables that point the application's workers at the services (e.g. `{ VENDOR_API_URL }`). */
  readonly env?: Readonly<Record<string, string>>;
  /** `[label, value]` lines for the dev banner. */
  readonly banner?: ReadonlyArray<readonly [string, string]>;
  /** Commands to try, printed under the banner. */
  readonly examples?: readonly string[];
  stop(): Promise<void>;
}

/** Checks an application module and returns it; throws a TypeError naming the field. */
export function defineApplication<Deps extends object>(app: Application<Deps>): Application<Deps> {
  if (app === null || typeof app !== 'object') throw new TypeError('application must be an object');
  if (typeof app.workflowsPath !== 'string' || !path.isAbsolute(app.workflowsPath)) {
    throw new TypeError(
      "application.workflowsPath must be an absolute path (path.join(__dirname, 'workflows')), got " +
        JSON.stringify(app.workflowsPath),
    );
  }
  const workflowsPath = resolveModuleFile(app.workflowsPath);
  if (!workflowsPath) {
    throw new TypeError(
      `application.workflowsPath: no module at ${app.workflowsPath} (nor ${MODULE_EXTENSIONS.join(', ')}, nor an index in it)`,
    );
  }
  if (typeof app.activities !== 'function') {
    throw new TypeError('application.activities must be a function (context) => { <activity name>: function }');
  }
  for (const field of ['seed', 'dev', 'migrations'] as const) {
    if (app[field] !== undefined && typeof app[field] !== 'function') {
      throw new TypeError(`application.${field} must be a function`);
    }
  }
  return Object.freeze({ ...app, workflowsPath });
}

const MODULE_EXTENSIONS = ['.ts', '.js', '.mts', '.cts', '.mjs', '.cjs'];

/** The file a module path names: itself, with an extension, or a folder's index; undefined when none exists. */
function resolveModuleFile(given: string): string | undefined {
  const candidates = [
    given,
    ...MODULE_EXTENSIONS.map((ext) => given + ext),
    ...MODULE_EXTENSIONS.map((ext) => path.join(given, `index${ext}`)),
  ];
  return candidates.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
}

const APP_FILES = ['app.ts', 'app.js'];

/**
 * Where the application module is, in this order: `--app <file>` (`explicit`), `JOBS_APP`, the `durable-jobs.app`
 * field of `package.json` in the working directory, then `app.ts` or `app.js` there. Throws naming every place it
 * looked when there is none.
 */
export function findApplicationModule(explicit?: string, cwd = process.cwd()): string {
  const given = explicit ?? process.env.JOBS_APP;
  if (given) {
    const file = path.resolve(cwd, given);
    if (!fs.existsSync(file)) {
      throw new Error(`${explicit ? '--app' : 'JOBS_APP'}: no application module at ${file}`);
    }
    return file;
  }
  const packageJson = path.join(cwd, 'package.json');
  if (fs.existsSync(packageJson)) {
    const field = (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { 'durable-jobs'?: { app?: unknown } })[
      'durable-jobs'
    ]?.app;
    if (typeof field === 'string') {
      const file = path.resolve(cwd, field);
      if (!fs.existsSync(file)) throw new Error(`package.json "durable-jobs".app: no application module at ${file}`);
      return file;
    }
  }
  for (const name of APP_FILES) {
    const file = path.join(cwd, name);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(
    `no application module in ${cwd}: looked for --app, JOBS_APP, package.json "durable-jobs".app, ${APP_FILES.join(
      ' and ',
    )} (create one with \`npx jobctl init <dir>\`)`,
  );
}

let loaded: { file: string; app: Application } | undefined;

/**
 * Loads the application module (a TypeScript one through tsx) and its workflows module, which declares its jobs.
 * Once per process: a second call returns the same application.
 */
export function loadApplication(explicit?: string): Application {
  const file = findApplicationModule(explicit);
  if (loaded) {
    if (loaded.file !== file) throw new Error(`application ${loaded.file} is loaded already; cannot load ${file}`);
    return loaded.app;
  }
  if (/\.[cm]?tsx?$/.test(file)) registerTypeScript();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the application module is found at run time
  const exported = require(file) as { default?: Application } & Application;
  const app = exported.default ?? exported;
  if (!app || typeof app.activities !== 'function' || typeof app.workflowsPath !== 'string') {
    throw new Error(
      `${file} must export an application as its default export: export default defineApplication({ … })`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- declares its jobs
  require(app.workflowsPath);
  loaded = { file, app };
  return app;
}

/** The application `loadApplication` loaded, if any. */
export function loadedApplication(): Application | undefined {
  return loaded?.app;
}

/** Lets `require` load TypeScript (the application's own files), unless something (tsx, vitest) already does. */
function registerTypeScript(): void {
  if (require.extensions['.ts']) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('tsx/cjs/api') as { register(): void }).register();
}
