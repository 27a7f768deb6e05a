// ESLint flat config: typescript-eslint's recommended rules for the server, bot, tab and tests, and
// the import boundaries between the layers (docs/ARCHITECTURE.md; tests/unit/architecture.test.ts
// proves each one still fails a break).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * One `files` block per folder, each forbidding relative imports that leave the folder's layer.
 * Import paths are relative (no aliases), so a pattern matches the folder a path climbs into.
 */
const boundary = (files, regex, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ regex, message }] }] },
});

export const BOUNDARIES = [
  boundary(['src/domain/**/*.ts'], '^\\.\\.(/|$)', 'src/domain is pure: it imports nothing else of the product.'),
  boundary(['src/contract/**/*.ts'], '^\\.\\.($|/(?!domain(/|$)))', 'src/contract depends only on src/domain.'),
  boundary(
    ['src/graph/**/*.ts', 'src/identity/**/*.ts', 'src/store/**/*.ts'],
    '^(\\.\\./)+(api|services|bot)(/|$)',
    'graph, identity and store never import api, services or bot: put the shape in src/contract or the port in src/services.',
  ),
  boundary(['src/services/**/*.ts'], '^(\\.\\./)+(api|bot)(/|$)', 'services never import api or bot: they offer ports (src/services/ports.ts) instead.'),
  boundary(['src/api/**/*.ts'], '^(\\.\\./)+bot(/|$)', 'api never imports bot: src/server.ts composes them.'),
  boundary(['bot/**/*.ts'], '^(\\.\\./)+src/api(/|$)', 'bot never imports src/api: read services through the BotServices port, shapes from src/contract.'),
  boundary(['src/sandbox/**/*.ts'], '^\\.\\.(/|$)', 'the sandbox stands in for Microsoft: it imports nothing of the product.'),
  boundary(
    ['tab/src/**/*.ts', 'tab/src/**/*.tsx'],
    '^(\\.\\./)+(bot(/|$)|src/(?!(contract|domain)(/|$)))',
    'the tab imports only src/contract and src/domain of the server.',
  ),
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'tab/dist/', 'appPackage/build/', 'coverage/', '.playground/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        fetch: 'readonly',
        window: 'readonly',
        document: 'readonly',
        navigator: 'readonly',
        location: 'readonly',
        WebSocket: 'readonly',
        AbortController: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
        FormData: 'readonly',
        Blob: 'readonly',
        File: 'readonly',
        HTMLElement: 'readonly',
        HTMLInputElement: 'readonly',
        Event: 'readonly',
        AbortSignal: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Tests read untyped JSON bodies from real HTTP answers.
    files: ['tests/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...BOUNDARIES,
);
