import { describe, expect, it } from 'vitest';
import {
  HOST_NAMES_TRUSTED_MS,
  type HostNames,
  type HostNamesRead,
  hostRefusal,
  startRefusal,
  wantedNames,
} from '../../../core/host-names.ts';
import type { GenerationParams } from '../../../core/params/generation.ts';
import type { Checkpoint } from '../../../core/ports.ts';

// The real A1111 1.8 kit's lists (test/fixtures/sd-webui-1.8: get-samplers, get-upscalers,
// get-latent-upscale-modes), trimmed; it has no /schedulers and no ADetailer or ControlNet.
const random: Checkpoint = {
  title: 'random-sd15.safetensors [5dd3a9b884]',
  model_name: 'random-sd15',
  hash: '5dd3a9b884',
};
const a1111: HostNames = {
  checkpoints: [random],
  samplers: ['DPM++ 2M Karras', 'DPM++ SDE Karras', 'Euler a', 'Euler', 'LMS', 'Heun', 'DPM2 a', 'DPM++ 2M'],
  upscalers: [
    'None',
    'Lanczos',
    'ESRGAN_4x',
    'R-ESRGAN 4x+',
    'R-ESRGAN 4x+ Anime6B',
    'Latent',
    'Latent (bicubic)',
  ],
};
// A host with schedulers and both extensions (the documented list shapes).
const xl: Checkpoint = { title: 'sdxl.safetensors [0123456789]', model_name: 'sdxl', hash: '0123456789' };
const reforge: HostNames = {
  checkpoints: [xl],
  samplers: ['DPM++ 2M', 'Euler a', 'Euler'],
  schedulers: ['automatic', 'Automatic', 'karras', 'Karras'],
  upscalers: ['R-ESRGAN 4x+', 'Latent'],
  adetailer: ['face_yolov8n.pt', 'hand_yolov8n.pt', 'mediapipe_face_full'],
  controlnet: ['control_v11p_sd15_canny [d14c016b]', 'control_v11p_sd15_openpose [cab727d4]'],
};
const now = Date.parse('2026-11-27T18:00:00Z');
const read = (names: HostNames, hostId = 'gpu:7860', age = 60_000): HostNamesRead => ({
  hostId,
  names,
  readAt: now - age,
});
const refuse = (params: Partial<GenerationParams>, ...reads: HostNamesRead[]) =>
  startRefusal(params, reads, now);
const asOf = '(their lists as of 2026-11-27T17:59:00.000Z)';
const unit = (model: string) => ({ model, image_key: 'inputs/x.png' });

describe('a start naming what the hosts lack', () => {
  it('refuses a sampler no host has, with the closest names', () => {
    expect(refuse({ sampler_name: 'Euler b' }, read(a1111))).toBe(
      `sampler_name: "Euler b" is not on the GPU hosts ${asOf}; the closest they have: Euler a, Euler, DPM2 a, Heun, LMS (and 3 more)`,
    );
  });

  it('refuses a scheduler, where every recent host lists its schedulers', () => {
    expect(refuse({ scheduler: 'Karas' }, read(reforge))).toBe(
      `scheduler: "Karas" is not on the GPU hosts ${asOf}; the closest they have: karras, Karras, automatic, Automatic`,
    );
    // A1111 1.8 has no scheduler setting (the worker adapts the name): its list is unknown.
    expect(refuse({ scheduler: 'Karas' }, read(reforge), read(a1111, 'old:7860'))).toBeUndefined();
  });

  it('refuses a hires upscaler or hires sampler only with hires on', () => {
    expect(refuse({ enable_hr: true, hr_upscaler: 'R-ESRGAN 4x' }, read(a1111))).toBe(
      `hr_upscaler: "R-ESRGAN 4x" is not on the GPU hosts ${asOf}; the closest they have: R-ESRGAN 4x+, ESRGAN_4x, R-ESRGAN 4x+ Anime6B, Lanczos, Latent (and 2 more)`,
    );
    expect(refuse({ enable_hr: false, hr_upscaler: 'R-ESRGAN 4x' }, read(a1111))).toBeUndefined();
    expect(refuse({ enable_hr: true, hr_sampler_name: 'Eular a' }, read(a1111))).toMatch(
      /^hr_sampler_name: "Eular a" is not on the GPU hosts .*the closest they have: Euler a, /,
    );
  });

  it('refuses ADetailer and ControlNet models, naming the tab or unit', () => {
    const adetailer = [{ model: 'None' }, { model: 'face_yolov8.pt' }];
    expect(refuse({ adetailer }, read(reforge))).toBe(
      `adetailer[1].model: "face_yolov8.pt" is not on the GPU hosts ${asOf}; the closest they have: face_yolov8n.pt, hand_yolov8n.pt, mediapipe_face_full`,
    );
    const controlnet = [unit('control_v11p_sd15_canny'), unit('control_v11p_sd15_depth')];
    expect(refuse({ controlnet } as Partial<GenerationParams>, read(reforge))).toBe(
      `controlnet[1].model: "control_v11p_sd15_depth" is not on the GPU hosts ${asOf}; the closest they have: control_v11p_sd15_canny [d14c016b], control_v11p_sd15_openpose [cab727d4]`,
    );
  });

  it('refuses a checkpoint as before, with how to name one', () => {
    expect(
      refuse({ checkpoint: 'dreamshaper' }, read(a1111, 'a:7860'), read(reforge, 'b:7860', 120_000)),
    ).toBe(
      `checkpoint: "dreamshaper" is not on the GPU hosts ${asOf}; the closest they have: sdxl.safetensors [0123456789], random-sd15.safetensors [5dd3a9b884]. Name one by title, file name or hash`,
    );
  });
});

describe('a start the hosts may run', () => {
  it('lets through names as SD WebUI matches them', () => {
    const params = {
      checkpoint: 'sdxl',
      sampler_name: 'DPM++ 2M Karras', // the old combined name: a sampler and a scheduler's label
      scheduler: 'karras',
      enable_hr: true,
      hr_upscaler: 'Latent',
      adetailer: [{ model: 'hand_yolov8n.pt' }],
      controlnet: [unit('control_v11p_sd15_openpose'), unit('None')],
    } as Partial<GenerationParams>;
    expect(refuse(params, read(reforge))).toBeUndefined();
    expect(refuse({ sampler_name: 'DPM++ 2M Karras' }, read(a1111))).toBeUndefined();
  });

  it('lets through a name one host has, though another lacks it', () => {
    expect(refuse({ sampler_name: 'Heun' }, read(reforge, 'b:7860'), read(a1111, 'a:7860'))).toBeUndefined();
  });

  it('never refuses on a list it does not know: an extension absent, a list too old, none at all', () => {
    // The kit has neither extension: its lists are unknown, not empty.
    expect(refuse({ adetailer: [{ model: 'face_yolov8n.pt' }] }, read(a1111))).toBeUndefined();
    const controlnet = [unit('control_v11p_sd15_canny')];
    expect(refuse({ controlnet } as Partial<GenerationParams>, read(a1111))).toBeUndefined();
    expect(refuse({ sampler_name: 'Euler b' }, read(a1111, 'a', HOST_NAMES_TRUSTED_MS + 1))).toBeUndefined();
    expect(refuse({ sampler_name: 'Euler b' })).toBeUndefined();
  });
});

describe("a worker's own check of its host", () => {
  it('names the host and what it has nearest', () => {
    const wanted = wantedNames({ sampler_name: 'Euler a', checkpoint: 'no-such-model' });
    expect(hostRefusal(wanted, a1111, 'gpu:7860')).toBe(
      'checkpoint: "no-such-model" is not on the GPU host gpu:7860; the closest it has: random-sd15.safetensors [5dd3a9b884]. Name one by title, file name or hash',
    );
    expect(
      hostRefusal(
        wanted.filter((w) => w.kind !== 'checkpoints'),
        a1111,
        'gpu:7860',
      ),
    ).toBeUndefined();
  });
});
