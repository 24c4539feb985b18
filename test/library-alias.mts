import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/**
 * `durable-jobs` and `durable-jobs/<entry>` resolve to the library's sources in this repository's tests (tsconfig.json
 * `paths` does the same for tsc and tsx), so the example application and the tests use the library by its public
 * entry points, as a user's application does.
 */
export const libraryAlias = [
  { find: /^durable-jobs$/, replacement: path.join(src, 'index.ts') },
  { find: /^durable-jobs\/(.*)$/, replacement: `${src}/$1.ts` },
];
