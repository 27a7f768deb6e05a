// Lints snippets with ESLint's Node API and the repository's eslint.config.mjs: reads
// `[{ file, source }]` as JSON on stdin, writes each one's `[ruleId, message][]` as JSON on stdout.
// A separate process because ESLint loads the flat config with a native import(), which Jest's
// CommonJS sandbox refuses (tests/unit/architecture.test.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let input = '';
for await (const chunk of process.stdin) input += chunk;
const eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.mjs') });
const out = [];
for (const { file, source } of JSON.parse(input)) {
  const [result] = await eslint.lintText(`${source}\n`, { filePath: path.join(root, file) });
  out.push(result.messages.map((m) => [m.ruleId, m.message]));
}
process.stdout.write(JSON.stringify(out));
