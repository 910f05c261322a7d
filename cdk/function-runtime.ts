/**
 * How the CDK app bundles and starts a function, in a module without aws-cdk-lib, so that the
 * benchmark can bundle and start its memory probe the same way and measure what a Lambda holds.
 */

/** The Lambda runtime the bundles target. */
export const BUNDLE_TARGET = 'node24';

// Bundled ESM still meets CommonJS code that calls require() (parts of the AWS SDK and others).
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __sdbatchCreateRequire } from 'node:module'; " +
  'const require = __sdbatchCreateRequire(import.meta.url);';

/** Package fields esbuild resolves, ESM builds first. */
export const MAIN_FIELDS = ['module', 'main'];

/**
 * V8's young generation sized to the function (5% of its memory, as a semi-space), not to the
 * machine: a streamed SD WebUI answer arrives as thousands of short-lived chunk buffers, and they
 * are freed only when the young generation is collected. With V8's default the bench's generate
 * probe (256 MB, the largest answer a call may bring) peaked at 243-300 MiB RSS; with 12 MB at
 * 212-234 MiB.
 */
const semiSpaceMb = (memoryMb: number): number => Math.max(1, Math.floor((memoryMb * 5) / 100));

/**
 * The Node.js flags a function of `memoryMb` starts with (its NODE_OPTIONS). The old generation
 * is held to half the function's memory: sized to the machine, V8 let it grow before collecting,
 * and the generate probe's peak for the largest answer reached 186 MiB of 256 MB in one of nine
 * runs (0.73); held, 154-162 MiB in nine. Images are Buffers, outside the JS heap.
 */
export const nodeFlags = (memoryMb: number): string[] => [
  '--enable-source-maps',
  `--max-semi-space-size=${semiSpaceMb(memoryMb)}`,
  `--max-old-space-size=${Math.floor(memoryMb / 2)}`,
];
