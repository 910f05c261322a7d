import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/sd-webui needs a real SD WebUI: `npm run test:sd-webui` (vitest.sd-webui.config.ts).
    exclude: ['**/node_modules/**', 'test/sd-webui/**'],
    // End-to-end tests start whole stacks; each gets its own ports and data dir.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
