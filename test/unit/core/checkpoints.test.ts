import { describe, expect, it } from 'vitest';
import { findCheckpoint } from '../../../core/checkpoints.ts';
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
