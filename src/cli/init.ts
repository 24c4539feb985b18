import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { INIT_JOB, initTemplates } from './init-templates';

/**
 * `jobctl init <dir>`, the way `npm init` or `cargo new` works: writes a new application into a new or empty
 * directory — package.json (durable-jobs, zod; TypeScript, vitest), tsconfig.json, app.ts, one job with its workflow,
 * activity and test, a README — that runs as it stands with `npm install && npm start`. Refuses a directory that has
 * anything in it, before writing anything.
 */
export interface InitOptions {
  /** The `durable-jobs` dependency of the new application. @default `^<this library's version>` */
  durableJobs?: string;
}

export interface InitResult {
  /** The application's directory, absolute. */
  dir: string;
  /** Files written, relative to it. */
  created: string[];
}

/** The packages whose versions the new application pins like this library does. */
interface LibraryPackage {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

export function initApplication(target: string, options: InitOptions = {}): InitResult {
  const dir = path.resolve(target);
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is a file: jobctl init writes into a directory`);
    const entries = fs.readdirSync(dir);
    if (entries.length > 0) {
      const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '');
      throw new Error(
        `${dir} is not empty (${shown}): jobctl init writes a new application into a new or empty directory`,
      );
    }
  }
  const library = libraryPackage();
  const pinned = (field: 'dependencies' | 'devDependencies', name: string): string => {
    const version = library[field]?.[name];
    if (!version) throw new Error(`durable-jobs's package.json has no ${name} in its ${field}`);
    return version;
  };
  const files = initTemplates({
    name: packageName(dir),
    versions: {
      durableJobs: options.durableJobs ?? `^${library.version}`,
      zod: pinned('dependencies', 'zod'),
      typescript: pinned('devDependencies', 'typescript'),
      vitest: pinned('devDependencies', 'vitest'),
      typesNode: pinned('devDependencies', '@types/node'),
    },
    allowScripts: library.allowScripts ?? {},
  });
  for (const [file, content] of Object.entries(files)) {
    const to = path.join(dir, file);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, content, { flag: 'wx' });
  }
  return { dir, created: Object.keys(files) };
}

/** An npm package name from the directory's: lower case, other characters as dashes. */
export function packageName(dir: string): string {
  const name = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name.slice(0, 214) || 'jobs-app';
}

/** This library's package.json: the nearest one up from this file that names `durable-jobs` (sources or build). */
function libraryPackage(): LibraryPackage {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as LibraryPackage & { name?: string };
      if (pkg.name === 'durable-jobs') return pkg;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json of durable-jobs above ${__dirname}`);
  }
}

/** `jobctl init <dir>`: needs no application (it writes one). */
export function addInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      `write a new application into <dir> (new or empty): app.ts, one job (${INIT_JOB}) with its test, package.json, ` +
        'tsconfig.json, README.md',
    )
    .argument('<dir>', 'where, e.g. my-jobs')
    .option('--durable-jobs <spec>', 'the durable-jobs dependency to write in package.json (default: ^<this version>)')
    .action((target: string, opts: { durableJobs?: string }) => {
      const { created } = initApplication(target, { durableJobs: opts.durableJobs });
      const shown = path.relative(process.cwd(), path.resolve(target)) || '.';
      process.stdout.write(
        [
          ...created.map((file) => `created  ${path.join(shown, file)}`),
          '',
          'Next:',
          `  cd ${shellQuote(shown)} && npm install && npm start`,
          `  npx jobctl enqueue ${INIT_JOB} '{"userId":1}' --wait    # in another terminal, in ${shown}`,
          '',
        ].join('\n'),
      );
    });
}

function shellQuote(arg: string): string {
  return /^[\w./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
