import { describe, expect, it } from 'vitest';
import { CHECKPOINT_LIST_TRUSTED_MS, checkpointRefusal, findCheckpoint } from '../../../core/checkpoints.ts';
import type { Checkpoint } from '../../../core/ports.ts';

// As the real A1111 1.8 kit lists its one checkpoint.
const random: Checkpoint = {
  title: 'random-sd15.safetensors [5dd3a9b884]',
  model_name: 'random-sd15',
  filename: '/tmp/a1111/webui/models/Stable-diffusion/random-sd15.safetensors',
  hash: '5dd3a9b884',
  sha256: '5dd3a9b88479c6a0a2a1e4a5e0d5b4c3b2a19f8e7d6c5b4a39281706f5e4d3c2',
};
const xl: Checkpoint = { title: 'sdxl.safetensors [0123456789]', model_name: 'sdxl', hash: '0123456789' };
const now = Date.parse('2026-11-27T18:00:00Z');

describe('findCheckpoint', () => {
  it('knows a checkpoint by title, title without hash, model name, file name, stem and hashes', () => {
    for (const name of [
      'random-sd15.safetensors [5dd3a9b884]',
      'random-sd15.safetensors',
      'random-sd15',
      'RANDOM-SD15',
      '5dd3a9b884',
      random.sha256 as string,
    ]) {
      expect(findCheckpoint(name, [xl, random])?.title, name).toBe(random.title);
    }
    expect(findCheckpoint('random', [xl, random])).toBeUndefined();
  });
});

describe('checkpointRefusal', () => {
  const lists = [
    { hostId: 'a:7860', checkpoints: [random], readAt: now - 60_000 },
    { hostId: 'b:7860', checkpoints: [xl], readAt: now - 120_000 },
  ];

  it('refuses a name no recent list has, naming the field, what the hosts have and when they said so', () => {
    expect(checkpointRefusal('dreamshaper', lists, now)).toBe(
      'checkpoint: "dreamshaper" is not on the GPU hosts (their lists as of 2026-11-27T17:59:00.000Z); ' +
        'they have: random-sd15.safetensors [5dd3a9b884], sdxl.safetensors [0123456789]. ' +
        'Name one by title, file name or hash',
    );
  });

  it('lets through a name one host has', () => {
    expect(checkpointRefusal('sdxl', lists, now)).toBeUndefined();
  });

  it('does not refuse on lists too old to trust, or on none', () => {
    const old = lists.map((l) => ({ ...l, readAt: now - CHECKPOINT_LIST_TRUSTED_MS - 1 }));
    expect(checkpointRefusal('dreamshaper', old, now)).toBeUndefined();
    expect(checkpointRefusal('dreamshaper', [], now)).toBeUndefined();
  });
});
