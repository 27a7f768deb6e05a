import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Root is tab/; the server serves dist/ at /tab/ and dist/auth-end.html at /auth/end,
// so every asset URL must be absolute under /tab/ to work from both paths.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/tab/',
  plugins: [react()],
  // The tab imports the shared contract and pure domain modules from ../src.
  server: { fs: { allow: [resolve(root, '..')] } },
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      input: {
        index: resolve(root, 'index.html'),
        'auth-end': resolve(root, 'auth-end.html'),
      },
    },
  },
});
