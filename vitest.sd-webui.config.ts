import { defineConfig } from 'vitest/config';

/**
 * `npm run test:sd-webui`: the tests that need a real SD WebUI at SD_WEBUI_URL. One file at a
 * time: they share that server's single queue.
 */
export default defineConfig({
  test: {
    include: ['test/sd-webui/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
