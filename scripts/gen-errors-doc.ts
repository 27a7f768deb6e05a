/** Writes docs/errors.md from the error catalogue (`npm run docs:errors`); a test keeps them equal. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CATALOGUE, type CatalogueEntry } from '../src/domain/errors';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(
    ([code, e]: [string, CatalogueEntry]) => `| \`${code}\` | ${e.status} | ${e.message} | ${e.remedy ?? '—'} |`,
  );
  return [
    '# Error codes',
    '',
    'Every API error is `{ "error": { "code", "message", "remedy"? } }`. The same codes appear in service-account test steps,',
    'connection errors and bot cards. 5xx answers carry a generic message; the details go to the server log only.',
    'Generated from `src/domain/errors.ts` by `npm run docs:errors`: edit the catalogue, not this file.',
    '',
    '| code | HTTP status | message | remedy |',
    '|---|---|---|---|',
    ...rows,
    '',
    'Status 200 on `ACCESS_POLICY_NOT_RESTRICTING` means it is only ever a warning step, never an HTTP error.',
    '',
  ].join('\n');
}

if (require.main === module) {
  const file = path.join(__dirname, '..', 'docs', 'errors.md');
  writeFileSync(file, renderErrorsDoc());
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
