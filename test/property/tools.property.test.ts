import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { DynamoDbJobStore } from '../../adapters/dynamodb-job-store.ts';
import { loadPresetCatalog } from '../../adapters/preset-files.ts';
import { S3ImageStore } from '../../adapters/s3-image-store.ts';
import { MAX_DATA_URL_BYTES } from '../../core/params/controlnet.ts';
import type { Orchestrator, WorkflowInput } from '../../core/ports.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import type { GatewayDeps } from '../../mcp-gateway/deps.ts';
import { buildServer } from '../../mcp-gateway/server.ts';
import { sleep, startTestStack } from '../support/embedded.ts';
import { listObjectKeys } from '../support/faults.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Thousands of random and hostile argument sets at every tool.
 * Each call gets a tool error with a message, or (start) a valid job; never a protocol error, an
 * internal error or a 5xx; and a refused start creates nothing.
 */

const TOOLS = [
  'sdreforge_batch_start',
  'sdreforge_batch_status',
  'sdreforge_batch_result',
  'sdreforge_batch_cancel',
  'sdreforge_batch_list',
  'sdreforge_presets',
] as const;
type ToolName = (typeof TOOLS)[number];

const CALLERS = ['prop-a', 'prop-b', 'prop-c', 'prop-d'];
const IN_MEMORY_RUNS = 2400;
const HTTP_RUNS = 400;
/** The HTTP stack's request size limit: small, so that some random bodies cross it. */
const REQUEST_LIMIT = 65_536;
const JOB_ID = /^job_\d{8}_[a-z2-7]{10}$/;
/** Messages that mean the server broke, not that the caller was told what to fix. */
const CRASH =
  /Internal error|Output validation error|Cannot read propert|is not a function|is not iterable|Maximum call stack|undefined is not|\[object Object\]/i;

// ---------------------------------------------------------------- hostile values

/** An object whose every key is an own, enumerable property: `__proto__` included. */
function ownObject(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}

/** What the wire does to a value: NaN becomes null, undefined disappears, `__proto__` stays a key. */
const overTheWire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
  '$ref',
  '',
  ' ',
  '\u0000',
  'prompt',
  'job_id',
  'status',
  'polluted',
];
const hostileKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
);

const nanIsh = fc.constantFrom(
  'NaN',
  '-NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1e309',
  '1e-400',
  '0x10',
  '0b101',
  '1_000',
  ' 8 ',
  '8px',
  '-0',
  '-1',
  '800',
  '801',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  '',
  ' ',
);
const weirdStrings = fc.constantFrom(
  '\uD800',
  '\uDFFF',
  'a\uDC00b\uD83D',
  '\uFEFF',
  '\u202Egnp.exe',
  'e\u0301\u0301\u0301',
  '🎨'.repeat(40),
  'Ω'.repeat(300),
  '\n\r\t\v\f',
  '\u0000\u0001\u001f',
  "'; DROP TABLE jobs; --",
  `\${7*7}{{7*7}}<script>alert(1)</script>`,
  '../../../etc/passwd',
  'JOB#x',
  'OWNER#prop-a',
  'TOKEN#prop-a#tok-1',
  'job_20260101_aaaaaaaaaa',
  'job_99999999_zzzzzzzzzz',
  'data:image/png;base64,AAAA',
  'https://169.254.169.254/latest/meta-data',
  'file:///etc/passwd',
);
const longStrings = fc.oneof(
  fc.integer({ min: 7_900, max: 8_100 }).map((n) => 'p'.repeat(n)),
  fc.constantFrom(60, 64, 65, 128, 129, 200, 2048, 2049).map((n) => 'k'.repeat(n)),
  fc.constant('x'.repeat(100_000)),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.integer({ min: -10, max: 900 }),
  fc.double(),
  fc.constantFrom(
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    2 ** 53 + 1,
    -(2 ** 53),
    4_294_967_294,
    4_294_967_295,
    -1,
    -2,
    0,
    -0,
    0.5,
    8.5,
    63,
    65,
    101,
    801,
    2049,
    1e21,
  ),
);
const hostileScalar = fc.oneof(
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  nanIsh,
  weirdStrings,
  { weight: 1, arbitrary: longStrings },
);

const { hostile } = fc.letrec((tie) => ({
  hostile: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    { weight: 4, arbitrary: hostileScalar },
    { weight: 1, arbitrary: fc.array(tie('hostile'), { maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(hostileKey, tie('hostile')), { maxLength: 4 })
        .map((entries) => ownObject(entries)),
    },
  ),
}));

/** `{"__proto__": {...}}`-style payloads aimed at Object.prototype and at zod's defaults. */
const pollutionPayload = fc.constantFrom(
  { polluted: 'yes', prompt: 'from the prototype', isAdmin: true },
  { toString: 'not a function', valueOf: 1 },
  { batch_size: 8, n_iter: 100 },
);

// ---------------------------------------------------------------- tool arguments

const START_FIELDS = [
  'prompt',
  'negative_prompt',
  'width',
  'height',
  'steps',
  'cfg_scale',
  'sampler_name',
  'scheduler',
  'clip_skip',
  'checkpoint',
  'seed',
  'subseed',
  'subseed_strength',
  'batch_size',
  'n_iter',
  'restore_faces',
  'tiling',
  'enable_hr',
  'hr_scale',
  'hr_upscaler',
  'hr_second_pass_steps',
  'denoising_strength',
  'hr_resize_x',
  'hr_resize_y',
  'hr_sampler_name',
  'hr_prompt',
  'hr_negative_prompt',
  'hr_cfg',
  'adetailer',
  'controlnet',
  'rp_active',
  'rp_mode',
  'rp_divide_ratio',
  'rp_lora_stop_step',
  'enable_dynamic_prompts',
  'combinatorial_generation',
  'max_generations',
  'use_fixed_seed',
  'preset',
  'client_token',
];

const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';
/** A data URL the schema accepts (its length is under the cap's base64 bound) whose bytes are just over the cap. */
const OVERSIZED_DATA_URL = `data:image/png;base64,${Buffer.alloc(MAX_DATA_URL_BYTES + 3, 7).toString('base64')}`;

/** Mostly valid values, each with a small chance of being just out of range. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: invalid });

const controlnetUnit = fc.record(
  {
    model: mostly(fc.constantFrom('control_v11p_sd15_canny', 'control_v11p_sd15_openpose'), hostile),
    module: fc.constantFrom('canny', 'none', 'openpose'),
    weight: mostly(fc.double({ min: 0, max: 2, noNaN: true }), hostileNumber),
    image: fc.oneof(
      { weight: 6, arbitrary: fc.constant(`data:image/png;base64,${TINY_PNG}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('data:image/gif;base64,R0lGOD', 'data:image/png;base64,', 'x'),
      },
      { weight: 1, arbitrary: fc.constant(OVERSIZED_DATA_URL) },
    ),
    image_url: fc.constantFrom(
      'https://example.com/pose.png',
      'http://127.0.0.1:1/x.png',
      'ftp://example.com/a.png',
      'javascript:alert(1)',
      'not a url',
    ),
    image_key: fc.constantFrom('inputs/x/controlnet-0.png', 'jobs/../../etc', ''),
  },
  { requiredKeys: [] },
);

const adetailerModel = fc.record(
  {
    model: mostly(fc.constantFrom('face_yolov8n.pt', 'hand_yolov8n.pt', 'None'), hostile),
    confidence: mostly(fc.double({ min: 0, max: 1, noNaN: true }), hostileNumber),
    steps: mostly(fc.integer({ min: 1, max: 150 }), hostileNumber),
  },
  { requiredKeys: ['model'] },
);

const startBase = fc.record(
  {
    prompt: mostly(fc.string({ minLength: 1, maxLength: 40 }), fc.oneof(hostile, longStrings)),
    negative_prompt: mostly(fc.string({ maxLength: 20 }), hostile),
    batch_size: mostly(fc.integer({ min: 1, max: 8 }), hostileNumber),
    n_iter: mostly(fc.integer({ min: 1, max: 100 }), hostileNumber),
    width: mostly(
      fc.integer({ min: 8, max: 256 }).map((n) => n * 8),
      hostileNumber,
    ),
    height: mostly(
      fc.integer({ min: 8, max: 256 }).map((n) => n * 8),
      hostileNumber,
    ),
    steps: mostly(fc.integer({ min: 1, max: 150 }), hostileNumber),
    cfg_scale: mostly(fc.double({ min: 1, max: 30, noNaN: true }), hostileNumber),
    seed: mostly(fc.integer({ min: -1, max: 4_294_967_294 }), hostileNumber),
    sampler_name: mostly(fc.constantFrom('Euler a', 'DPM++ 2M'), hostile),
    enable_hr: mostly(fc.boolean(), hostile),
    hr_scale: mostly(fc.double({ min: 1, max: 4, noNaN: true }), hostileNumber),
    adetailer: mostly(fc.array(adetailerModel, { maxLength: 5 }), hostile),
    controlnet: mostly(fc.array(controlnetUnit, { maxLength: 4 }), hostile),
    rp_active: fc.boolean(),
    rp_mode: mostly(fc.constantFrom('Matrix', 'Mask', 'Prompt'), hostile),
    preset: fc.constantFrom('txt2img_default', 'txt2img_portrait_xl', 'nope', '', 'constructor', '__proto__'),
    client_token: fc.constantFrom('tok-1', 'tok-2', 'tok-3', '', 'k'.repeat(129)),
  },
  { requiredKeys: [] },
);

/** A start that should succeed: every field in range, a fresh client_token or none. */
const cleanStart = fc.record(
  {
    prompt: fc.string({ minLength: 1, maxLength: 60 }),
    negative_prompt: fc.string({ maxLength: 20 }),
    batch_size: fc.integer({ min: 1, max: 8 }),
    n_iter: fc.integer({ min: 1, max: 100 }),
    width: fc.integer({ min: 8, max: 256 }).map((n) => n * 8),
    height: fc.integer({ min: 8, max: 256 }).map((n) => n * 8),
    steps: fc.integer({ min: 1, max: 150 }),
    cfg_scale: fc.double({ min: 1, max: 30, noNaN: true }),
    seed: fc.integer({ min: -1, max: 4_294_967_294 }),
    subseed_strength: fc.constantFrom(0, 0.25, 1),
    enable_hr: fc.boolean(),
    hr_scale: fc.double({ min: 1, max: 4, noNaN: true }),
    adetailer: fc.array(
      fc.record({
        model: fc.constantFrom('face_yolov8n.pt', 'None'),
        confidence: fc.constantFrom(0, 0.3, 1),
      }),
      { maxLength: 2 },
    ),
    controlnet: fc.array(
      fc.record({
        model: fc.constant('control_v11p_sd15_canny'),
        image: fc.oneof(
          { weight: 20, arbitrary: fc.constant(`data:image/png;base64,${TINY_PNG}`) },
          { weight: 1, arbitrary: fc.constant(OVERSIZED_DATA_URL) },
        ),
      }),
      { maxLength: 2 },
    ),
    rp_active: fc.boolean(),
    preset: fc.constantFrom('txt2img_default', 'txt2img_portrait_xl'),
    client_token: fc.uuid(),
  },
  { requiredKeys: ['prompt'] },
);

/** Replaces or adds a few fields with hostile values, unknown keys and prototype keys. */
const mutations = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...START_FIELDS, 'job_id', 'cursor', 'limit', 'status'), hostileKey),
    fc.oneof(hostile, pollutionPayload),
  ),
  { minLength: 1, maxLength: 4 },
);

/**
 * How the runtime completes a call: `job_id` / `cursor` take one the caller was handed before,
 * `replay` sends the caller's last start with a client_token again, word for word.
 */
type Pick = 'job_id' | 'cursor' | 'replay';
type Generated = { args: Record<string, unknown>; pick?: Pick };

/** Arguments for one call: valid, valid-ish, or valid-ish with hostile mutations. */
function argsFor(tool: ToolName): fc.Arbitrary<Generated> {
  const jobIdArgs = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Generated>({ args: {}, pick: 'job_id' }) },
    {
      weight: 2,
      arbitrary: fc.oneof(hostile, fc.string({ minLength: 1, maxLength: 64 })).map((job_id) => ({
        args: { job_id },
      })),
    },
    { weight: 1, arbitrary: fc.constant<Generated>({ args: {} }) },
  );
  const craftedCursor = fc
    .record(
      {
        owner_pk: fc.constantFrom('OWNER#prop-a', 'OWNER#prop-b', 'OWNER#default', 'OWNER#x'),
        pk: fc.oneof(fc.constant('JOB#job_20260101_aaaaaaaaaa'), hostile),
        sk: fc.oneof(fc.constant('JOB'), hostile),
        owner_sk: fc.oneof(fc.constant('2026-01-01T00:00:00.000Z#job_20260101_aaaaaaaaaa'), hostile),
      },
      { requiredKeys: ['owner_pk', 'pk'] },
    )
    .map((key) => Buffer.from(JSON.stringify(key)).toString('base64url'));
  const listArgs = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record(
          {
            status: mostly(fc.constantFrom('pending', 'running', 'completed', 'cancelled'), hostile),
            limit: mostly(fc.integer({ min: 1, max: 100 }), hostileNumber),
            cursor: fc.oneof(craftedCursor, hostile, fc.base64String({ maxLength: 40 })),
          },
          { requiredKeys: [] },
        )
        .map((args) => ({ args })),
    },
    { weight: 1, arbitrary: fc.constant<Generated>({ args: {}, pick: 'cursor' }) },
  );
  const base: fc.Arbitrary<Generated> =
    tool === 'sdreforge_batch_start'
      ? startBase.map((args) => ({ args: args as Record<string, unknown> }))
      : tool === 'sdreforge_batch_list'
        ? listArgs
        : tool === 'sdreforge_presets'
          ? fc.constant({ args: {} })
          : jobIdArgs;
  const mutated = fc.tuple(base, mutations).map(([{ args, pick }, changes]): Generated => {
    const entries: Array<[string, unknown]> = Object.entries(args);
    for (const [key, value] of changes) {
      const at = entries.findIndex(([k]) => k === key);
      if (at >= 0) entries[at] = [key, value];
      else entries.push([key, value]);
    }
    return { args: ownObject(entries), pick: changes.some(([k]) => k === pick) ? undefined : pick };
  });
  if (tool !== 'sdreforge_batch_start') {
    return fc.oneof({ weight: 1, arbitrary: base }, { weight: 1, arbitrary: mutated });
  }
  return fc.oneof(
    { weight: 4, arbitrary: cleanStart.map((args): Generated => ({ args })) },
    { weight: 1, arbitrary: fc.constant<Generated>({ args: {}, pick: 'replay' }) },
    { weight: 2, arbitrary: base },
    { weight: 3, arbitrary: mutated },
  );
}

const call = fc
  .record({
    tool: fc.constantFrom(...TOOLS, 'sdreforge_batch_start', 'sdreforge_batch_start'),
    caller: fc.constantFrom(...CALLERS),
    n: fc.nat(),
  })
  .chain(({ tool, caller, n }) => argsFor(tool).map(({ args, pick }) => ({ tool, caller, n, args, pick })));

// ---------------------------------------------------------------- the system under test

class RecordingOrchestrator implements Orchestrator {
  readonly started: Array<{ jobId: string; input: WorkflowInput }> = [];
  readonly stopped: string[] = [];
  async start(jobId: string, input: WorkflowInput): Promise<void> {
    this.started.push({ jobId, input });
  }
  async stop(jobId: string): Promise<void> {
    this.stopped.push(jobId);
  }
}

// ---------------------------------------------------------------- product bugs found by this file

const textOf = (result: CallToolResult): string =>
  (result.content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('every tool under random and hostile arguments', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let stores: EmbeddedStores;
  let orchestrator: RecordingOrchestrator;
  const clients = new Map<string, Client>();
  /** Job ids each caller got from a successful start. */
  const created = new Map<string, string[]>(CALLERS.map((c) => [c, []]));
  const cursors = new Map<string, string[]>(CALLERS.map((c) => [c, []]));
  const outcomes = new Map<string, { ok: number; error: number }>();
  /** Each caller's last successful start that carried a client_token, to send again. */
  const lastTokenStart = new Map<string, { args: Record<string, unknown>; jobId: string }>();
  let replays = 0;
  /** Starts answered with an existing job because of their client_token. */
  let tokenReuses = 0;
  /** Starts that died of a known bug after they may have stored control images. */
  const consoleErrors: unknown[][] = [];

  beforeAll(async () => {
    dir = await tempDir('sdbatch-property-');
    stores = await startEmbeddedStores(dir.path);
    orchestrator = new RecordingOrchestrator();
    const deps: GatewayDeps = {
      jobs: new DynamoDbJobStore(documentClient(stores.clients), stores.tableName),
      images: new S3ImageStore(s3Client(stores.clients), stores.bucketName),
      orchestrator,
      presets: await loadPresetCatalog(fileURLToPath(new URL('../../presets', import.meta.url))),
      now: () => new Date(),
      settings: {
        concurrency: 2,
        hosts: 1,
        retentionSeconds: 86_400,
        calibration: { secondsPerStep: 0.05 },
        urlTtlSeconds: 3600,
        limits: {
          maxImagesPerJob: 800,
          maxActiveJobsPerCaller: 1_000_000,
          maxPromptChars: 8000,
          maxRequestBytes: 8 * 1024 * 1024,
        },
      },
    };
    for (const caller of CALLERS) {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await buildServer({ deps, caller: { id: caller } }).connect(serverSide);
      const client = new Client({ name: `property-${caller}`, version: '1.0.0' });
      await client.connect(clientSide);
      // Listing the tools makes the client check every structuredContent against its output schema.
      await client.listTools();
      clients.set(caller, client);
    }
  });
  afterAll(async () => {
    for (const client of clients.values()) await client.close();
    await stores?.close();
    await dir?.remove();
  });

  it(`answers ${IN_MEMORY_RUNS} random calls with a tool error or a valid result, and refused starts create nothing`, async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      consoleErrors.push(args);
    });
    const began = performance.now();
    try {
      await fc.assert(
        fc.asyncProperty(call, async ({ tool, caller, n, args: generated, pick }) => {
          let args = overTheWire(generated);
          const mine = created.get(caller) ?? [];
          if (pick === 'job_id' && mine.length > 0) args.job_id = mine[n % mine.length];
          const pages = cursors.get(caller) ?? [];
          if (pick === 'cursor' && pages.length > 0) args.cursor = pages[n % pages.length];
          const replayed = pick === 'replay' ? lastTokenStart.get(caller) : undefined;
          if (pick === 'replay')
            args = replayed ? overTheWire(replayed.args) : { prompt: 'nothing to replay yet' };
          const errorsBefore = consoleErrors.length;

          const client = clients.get(caller) as Client;
          // A rejected promise here (a protocol error) fails the property.
          const result = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
          const text = textOf(result);
          const where = `${tool} ${JSON.stringify(args).slice(0, 400)} -> ${text.slice(0, 400)}`;
          const logged = consoleErrors.slice(errorsBefore);
          const tally = outcomes.get(tool) ?? { ok: 0, error: 0 };
          outcomes.set(tool, tally);
          expect(logged, where).toEqual([]);
          expect(text, where).not.toMatch(CRASH);
          if (replayed) {
            // The same call with the same client_token: the same job, not a second one.
            expect(result.isError, where).toBeFalsy();
            expect(result.structuredContent?.job_id, where).toBe(replayed.jobId);
            replays++;
          }

          if (result.isError) {
            tally.error++;
            expect(text.trim().length, where).toBeGreaterThan(0);
            expect(result.structuredContent, where).toBeUndefined();
            return;
          }
          tally.ok++;
          const data = result.structuredContent as Record<string, unknown>;
          expect(data, where).toBeDefined();
          switch (tool) {
            case 'sdreforge_batch_start': {
              const jobId = String(data.job_id);
              expect(jobId, where).toMatch(JOB_ID);
              expect(data.total_images, where).toBeGreaterThanOrEqual(1);
              expect(data.total_images, where).toBeLessThanOrEqual(800);
              if (mine.includes(jobId)) {
                // Only a client_token brings an existing job back.
                expect(typeof args.client_token, where).toBe('string');
                expect(text, where).toContain('client_token');
                tokenReuses++;
              } else {
                mine.push(jobId);
                expect(data.status, where).toBe('pending');
              }
              if (typeof args.client_token === 'string') lastTokenStart.set(caller, { args, jobId });
              break;
            }
            case 'sdreforge_batch_status':
            case 'sdreforge_batch_result':
            case 'sdreforge_batch_cancel':
              // Only the caller's own jobs are found.
              expect(mine, where).toContain(data.job_id);
              break;
            case 'sdreforge_batch_list': {
              const ids = (data.jobs as Array<{ job_id: string }>).map((j) => j.job_id);
              for (const id of ids) expect(mine, where).toContain(id);
              if (typeof data.next_cursor === 'string') pages.push(data.next_cursor);
              break;
            }
            case 'sdreforge_presets':
              expect((data.presets as unknown[]).length, where).toBeGreaterThanOrEqual(2);
              break;
          }
        }),
        { numRuns: IN_MEMORY_RUNS, seed: Number(process.env.PROPERTY_SEED ?? 20261124), endOnFailure: false },
      );
    } finally {
      spy.mockRestore();
    }
    const seconds = (performance.now() - began) / 1000;

    // Nothing was created by a refused start: the table holds exactly the jobs handed out.
    const db = documentClient(stores.clients);
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new ScanCommand({ TableName: stores.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    db.destroy();
    const handedOut = [...created.values()].flat();
    const jobItems = items.filter((item) => item.sk === 'JOB');
    expect(jobItems.length).toBe(handedOut.length);
    expect(new Set(jobItems.map((item) => item.job_id))).toEqual(new Set(handedOut));
    for (const [caller, ids] of created) {
      for (const item of jobItems.filter((i) => ids.includes(String(i.job_id))))
        expect(item.owner).toBe(caller);
    }
    // One execution per job and none for a refused call. Like StartExecution, a start with a
    // running execution's name is the same execution: a client_token replay of a pending job may
    // start it again (start-job.ts resume), nothing else may.
    const executions = new Set(orchestrator.started.map((s) => s.jobId));
    expect([...executions].sort()).toEqual([...handedOut].sort());
    const repeated = orchestrator.started.length - executions.size;
    expect(repeated).toBeLessThanOrEqual(tokenReuses);
    for (const { input } of orchestrator.started) expect(input.job_id).toMatch(JOB_ID);
    // Control images stored from data URLs belong to created jobs only: a refused start stores none.
    const inputs = await listObjectKeys(stores.clients, stores.bucketName, 'inputs/');
    const orphans = [...new Set(inputs.map((key) => String(key.split('/')[1])))].filter(
      (id) => !handedOut.includes(id),
    );
    expect(orphans, 'control images of jobs that were never created').toEqual([]);
    // `__proto__` keys went nowhere.
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const calls = [...outcomes.values()].reduce((n, t) => n + t.ok + t.error, 0);
    console.log(
      [
        `[property] ${calls} tool calls in ${seconds.toFixed(1)} s over an in-memory MCP transport`,
        ...[...outcomes].map(([tool, t]) => `  ${tool}: ${t.ok} results, ${t.error} tool errors`),
        `  job items ${jobItems.length} = jobs handed out ${handedOut.length} = executions ${executions.size} ` +
          `(+${repeated} repeated starts of pending jobs on ${tokenReuses} client_token reuses); ` +
          `cancel stops ${orchestrator.stopped.length}; control-image objects ${inputs.length}; ` +
          `client_token replays answered with their first job ${replays}; ` +
          `orphaned control-image prefixes ${orphans.length}`,
      ].join('\n'),
    );
    expect(calls).toBe(IN_MEMORY_RUNS);
    expect(replays).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- raw HTTP at the real gateway

const jsonRpcId = fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), hostile);
const toolCallBody = fc
  .tuple(fc.constantFrom(...TOOLS, 'no_such_tool', '', '__proto__'), jsonRpcId)
  .chain(([name, id]) =>
    (TOOLS.includes(name as ToolName) ? argsFor(name as ToolName) : fc.constant({ args: {} })).map(
      ({ args }) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
    ),
  );
const randomRpc = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), hostile),
    id: jsonRpcId,
    method: fc.oneof(
      fc.constantFrom(
        'tools/call',
        'tools/list',
        'initialize',
        'ping',
        'notifications/initialized',
        'resources/list',
        'prompts/get',
        'tasks/get',
        'logging/setLevel',
        'completion/complete',
        '__proto__',
        'constructor',
      ),
      hostile,
    ),
    params: hostile,
  },
  { requiredKeys: [] },
);
const httpBody = fc.oneof(
  { weight: 5, arbitrary: toolCallBody.map((m) => JSON.stringify(m)) },
  { weight: 3, arbitrary: randomRpc.map((m) => JSON.stringify(m)) },
  {
    weight: 1,
    arbitrary: fc.array(fc.oneof(toolCallBody, randomRpc), { maxLength: 3 }).map((m) => JSON.stringify(m)),
  },
  { weight: 1, arbitrary: hostile.map((v) => JSON.stringify(v) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        '',
        '{',
        '{"jsonrpc":"2.0",',
        '[',
        'null',
        '\u0000\u0000',
        '{"__proto__":{"polluted":1}}',
      ),
      fc.constant(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"${'y'.repeat(70_000)}"}}`),
      fc.constant(`${'['.repeat(5000)}${']'.repeat(5000)}`),
    ),
  },
);
const httpRequest = fc.record({
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant('POST') },
    fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH'),
  ),
  body: httpBody,
  auth: fc.oneof({ weight: 12, arbitrary: fc.constant('good') }, fc.constantFrom('none', 'wrong', 'raw')),
  accept: fc.oneof(
    { weight: 10, arbitrary: fc.constant('application/json, text/event-stream') },
    fc.constantFrom('application/json', 'text/event-stream', '*/*', '', 'text/html'),
  ),
  contentType: fc.oneof(
    { weight: 10, arbitrary: fc.constant('application/json') },
    fc.constantFrom('text/plain', 'application/json; charset=utf-16', '', 'multipart/form-data'),
  ),
  protocolVersion: fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    fc.constantFrom('2025-06-18', '2025-03-26', '1999-01-01', 'garbage'),
  ),
  origin: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    fc.constantFrom('https://evil.example', 'null'),
  ),
});

/**
 * One request on its own connection (no keep-alive), so that what one hostile request does to its
 * socket cannot fail the next one: see the report on 413 and keep-alive.
 */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the HTTP gateway under random and hostile request bodies', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let stack: EmbeddedStack;

  beforeAll(async () => {
    dir = await tempDir('sdbatch-property-http-');
    stack = await startTestStack(dir.path, {
      SDBATCH_SIM_STEP_MS: '0',
      // Keep whatever a random valid start creates tiny; allow a large request to hit the body limit.
      SDBATCH_MAX_IMAGES_PER_JOB: '2',
      SDBATCH_MAX_ACTIVE_JOBS: '1000',
      SDBATCH_MAX_REQUEST_BYTES: String(REQUEST_LIMIT),
    });
  });
  afterAll(async () => {
    if (stack) {
      // Let the few tiny jobs random valid starts made end first: the stack stops faster when no
      // execution is waiting for a GPU slot (see the report on stop() and retry loops).
      const deadline = Date.now() + 20_000;
      while ((await stack.deps.jobs.countActive('default')) > 0 && Date.now() < deadline) await sleep(100);
      await stack.stop();
    }
    await dir?.remove();
  });

  it(`answers ${HTTP_RUNS} random requests without a 5xx or an internal error`, async () => {
    const statuses = new Map<number, number>();
    const consoleErrors: unknown[][] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      consoleErrors.push(args);
    });
    const began = performance.now();
    try {
      await fc.assert(
        fc.asyncProperty(httpRequest, async (r) => {
          const headers: Record<string, string> = {};
          if (r.auth === 'good') headers.authorization = `Bearer ${stack.token}`;
          if (r.auth === 'wrong') headers.authorization = 'Bearer not-the-token-not-the-token';
          if (r.auth === 'raw') headers.authorization = stack.token;
          if (r.accept) headers.accept = r.accept;
          if (r.contentType) headers['content-type'] = r.contentType;
          if (r.protocolVersion) headers['mcp-protocol-version'] = r.protocolVersion;
          if (r.origin) headers.origin = r.origin;
          const body = r.method === 'GET' ? undefined : r.body;
          let response: { status: number; text: string };
          try {
            response = await send(stack.mcpUrl, r.method, headers, body);
          } catch (error) {
            // A body over the limit may be refused unread; the server then drops the connection
            // and the client may see the reset before the 4xx. Anything else is a failure.
            const code = (error as NodeJS.ErrnoException).code;
            const oversized = Buffer.byteLength(body ?? '') > REQUEST_LIMIT;
            if (!(oversized && (code === 'ECONNRESET' || code === 'EPIPE'))) throw error;
            statuses.set(-1, (statuses.get(-1) ?? 0) + 1);
            return;
          }
          const text = response.text;
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const where = `${r.method} ${JSON.stringify(headers).slice(0, 200)} ${r.body.slice(0, 300)} -> ${response.status} ${text.slice(0, 300)}`;
          const logged = consoleErrors.splice(0);
          expect(response.status, where).toBeLessThan(500);
          expect(text, where).not.toMatch(CRASH);
          expect(logged, where).toEqual([]);
        }),
        { numRuns: HTTP_RUNS, seed: Number(process.env.PROPERTY_SEED ?? 20261124), endOnFailure: false },
      );
    } finally {
      spy.mockRestore();
    }
    const seconds = (performance.now() - began) / 1000;
    console.log(
      [
        `[property] ${HTTP_RUNS} raw HTTP requests in ${seconds.toFixed(1)} s; statuses (-1 = oversized body, connection reset) ${JSON.stringify(
          Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
        )}`,
      ].join('\n'),
    );
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});
