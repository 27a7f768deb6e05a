/**
 * The import boundaries of docs/ARCHITECTURE.md are enforced by eslint.config.mjs. Each case lints a
 * one-line break of one rule with ESLint's Node API, as a file inside that folder, and expects the
 * error: if a rule is renamed, mistyped or dropped, this fails instead of the rule going quiet.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The no-restricted-imports messages for each snippet, linted as the named file (tests/helpers/lint-snippets.mjs). */
function restrictedImports(cases: Array<{ file: string; source: string }>): string[][] {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'helpers', 'lint-snippets.mjs')], { input: JSON.stringify(cases), encoding: 'utf8' });
  return (JSON.parse(out) as Array<Array<[string | null, string]>>).map((messages) =>
    messages.filter(([rule]) => rule === 'no-restricted-imports').map(([, message]) => message),
  );
}

const linted = new Map<string, string[]>();
beforeAll(() => {
  const cases = [...breaks, ...allowed].map(([, file, source]) => ({ file, source }));
  restrictedImports(cases).forEach((messages, i) => linted.set(`${cases[i]!.file}\n${cases[i]!.source}`, messages));
}, 120_000);

const breaks: Array<[rule: string, file: string, source: string]> = [
  ['domain imports nothing else', 'src/domain/x.ts', "import type { Store } from '../store/types';"],
  ['domain does not import the contract', 'src/domain/x.ts', "import type { StepId } from '../contract';"],
  ['contract imports only domain', 'src/contract/x.ts', "import type { Store } from '../store/types';"],
  ['contract imports no bot', 'src/contract/x.ts', "import type { TestOutcome } from '../../bot';"],
  ['sandbox does not import the server', 'src/sandbox/x.ts', "import { startProduct } from '..';"],
  ['graph never imports api', 'src/graph/x.ts', "import { sendJson } from '../api/http';"],
  ['graph never imports services', 'src/graph/x.ts', "import type { ProbePort } from '../services/ports';"],
  ['identity never imports services', 'src/identity/x.ts', "import type { Sealer } from '../services/sealed';"],
  ['store never imports api', 'src/store/x.ts', "import { sendJson } from '../api/http';"],
  ['store never imports bot', 'src/store/x.ts', "import type { TestOutcome } from '../../bot';"],
  ['services never import api', 'src/services/x.ts', "import { sendJson } from '../api/http';"],
  ['services never import bot', 'src/services/x.ts', "import type { TestOutcome } from '../../bot/cards';"],
  ['api never imports bot', 'src/api/x.ts', "import type { TestOutcome } from '../../bot';"],
  ['bot never imports api', 'bot/x.ts', "import { sendJson } from '../src/api/http';"],
  ['bot cards never import api', 'bot/cards/x.ts', "import { sendJson } from '../../src/api/http';"],
  ['sandbox imports nothing of the product', 'src/sandbox/x.ts', "import { CONNECTION_KINDS } from '../domain/connection';"],
  ['tab imports no server module but contract and domain', 'tab/src/admin/x.tsx', "import type { Store } from '../../../src/store/types';"],
  ['tab never imports services', 'tab/src/x.ts', "import type { AdminService } from '../../src/services/admin';"],
  ['tab never imports bot', 'tab/src/x.ts', "import { buildCard } from '../../bot/cards';"],
];

test.each(breaks)('%s: a break fails the lint', (_rule, file, source) => {
  expect(linted.get(`${file}\n${source}`)).toHaveLength(1);
});

const allowed: Array<[what: string, file: string, source: string]> = [
  ['contract imports domain', 'src/contract/x.ts', "import type { Feature } from '../domain/features';"],
  ['store imports the contract', 'src/store/x.ts', "import type { TestStep } from '../contract';"],
  [
    'services import graph and the contract',
    'src/services/x.ts',
    "import type { ProbeResult } from '../contract';\nimport { createGraphClient } from '../graph/client';",
  ],
  [
    'bot imports services and the contract',
    'bot/x.ts',
    "import type { BotServices } from '../src/services/ports';\nimport type { SummaryResponse } from '../src/contract';",
  ],
  [
    'tab imports contract and domain',
    'tab/src/admin/x.tsx',
    "import type { StepId } from '../../../src/contract';\nimport { FEATURES } from '../../../src/domain/features';\nimport { Api } from '../api';",
  ],
  ['sandbox imports itself', 'src/sandbox/x.ts', "import { loadContosoSeed } from './seed';"],
];

test.each(allowed)('%s: allowed', (_what, file, source) => {
  expect(linted.get(`${file}\n${source}`)).toEqual([]);
});
