import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderErrorsDoc } from '../../scripts/gen-errors-doc';

it('docs/errors.md is the catalogue as it is now (run npm run docs:errors after changing it)', () => {
  expect(readFileSync(path.join(__dirname, '../../docs/errors.md'), 'utf8')).toBe(renderErrorsDoc());
});
