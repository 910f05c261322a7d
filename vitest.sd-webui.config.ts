import { defineConfig } from 'vitest/config';

// `npm run test:sd-webui`: the tests that need a real SD WebUI at SD_WEBUI_URL, one file at a
// time (they share one GPU host).
export default defineConfig({
  test: {
    include: ['test/sd-webui/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
