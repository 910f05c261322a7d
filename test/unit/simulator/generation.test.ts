import { describe, expect, it } from 'vitest';
import { defaultOptions, resolveSampler } from '../../../local/simulator/catalog.ts';
import { SdApiError } from '../../../local/simulator/errors.ts';
import { infoObject, infotext, planTxt2Img } from '../../../local/simulator/generation.ts';
import { parseTxt2ImgBody } from '../../../local/simulator/validate.ts';

function plan(body: Record<string, unknown>, options = defaultOptions()) {
  const parsed = parseTxt2ImgBody(JSON.stringify(body), 'application/json');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.detail));
  return planTxt2Img(parsed.request, options);
}

describe('planTxt2Img', () => {
  it('numbers seeds seed + i over batch_size × n_iter, subseeds too', () => {
    const p = plan({ seed: 10, subseed: 50, batch_size: 2, n_iter: 3 });
    expect(p.seeds).toEqual([10, 11, 12, 13, 14, 15]);
    expect(p.subseeds).toEqual([50, 51, 52, 53, 54, 55]);
  });

  it('gives every image the same seed when subseed_strength is not 0 or Dynamic Prompts fixes it', () => {
    expect(plan({ seed: 10, subseed: 3, subseed_strength: 0.5, batch_size: 3 }).seeds).toEqual([10, 10, 10]);
    const args = [true, false, 1, false, false, false, 1.1, 1.5, 100, 0.7, true];
    const fixed = plan({
      seed: 10,
      batch_size: 2,
      alwayson_scripts: { 'Dynamic Prompts v2.17.1': { args } },
    });
    expect(fixed.seeds).toEqual([10, 10]);
  });

  it('draws a concrete seed for -1 and null', () => {
    for (const seed of [-1, null]) {
      const [first] = plan({ seed }).seeds;
      expect(first).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(4294967294);
    }
  });

  it('expands {a|b} per image from its seed unless Dynamic Prompts is disabled', () => {
    const a = plan({ prompt: 'a {red|green|blue} cat', seed: 1, batch_size: 8 });
    expect(new Set(a.prompts).size).toBeGreaterThan(1);
    expect(a.prompts.every((p) => /^a (red|green|blue) cat$/.test(p))).toBe(true);
    expect(plan({ prompt: 'a {red|green|blue} cat', seed: 1, batch_size: 8 }).prompts).toEqual(a.prompts);
    const off = plan({
      prompt: 'a {x|y}',
      alwayson_scripts: { 'dynamic prompts v2.17.1': { args: [false] } },
    });
    expect(off.prompts).toEqual(['a {x|y}']);
  });

  it('floors sizes to a multiple of 8 and scales the hires pass', () => {
    const p = plan({ width: 500, height: 300, enable_hr: true, hr_scale: 1.5, steps: 20 });
    expect(p.size).toEqual({ width: 496, height: 296 });
    expect(p.hrSize).toEqual({ width: 744, height: 448 });
    // An img2img pass: int(denoising × steps) + 1 sampler steps, denoising 0.75 when unset.
    expect(p.hrSteps).toBe(16);
    expect(plan({ enable_hr: true, steps: 20, denoising_strength: 0.5 }).hrSteps).toBe(11);
    expect(plan({ enable_hr: true, hr_resize_x: 1000, hr_second_pass_steps: 7 })).toMatchObject({
      hrSize: { width: 1000, height: 1000 },
      hrSteps: 7,
    });
  });

  it('raises the 500s processing.py raises', () => {
    const fails = (body: Record<string, unknown>, error: string) => {
      try {
        plan(body);
      } catch (e) {
        expect(e).toBeInstanceOf(SdApiError);
        expect((e as SdApiError).body).toMatchObject({ error, detail: '', body: '' });
        return;
      }
      throw new Error(`expected ${error}`);
    };
    fails({ steps: null }, 'TypeError');
    fails({ override_settings: { no_such_option: 1 } }, 'KeyError');
    fails({ enable_hr: true, hr_upscaler: 'Nope' }, 'Exception');
    fails({ refiner_checkpoint: 'missing_model' }, 'Exception');
  });

  it('uses override_settings.sd_model_checkpoint for the request only, ignoring unknown ones', () => {
    expect(plan({ override_settings: { sd_model_checkpoint: 'v1-5-pruned-emaonly' } }).checkpoint.stem).toBe(
      'v1-5-pruned-emaonly',
    );
    expect(plan({ override_settings: { sd_model_checkpoint: 'nope' } }).checkpoint.stem).toBe(
      'sd_xl_base_1.0',
    );
  });
});

describe('infotext and info', () => {
  it('writes the real infotext format', () => {
    const p = plan({
      prompt: 'a cat',
      negative_prompt: 'ugly',
      seed: 123,
      steps: 20,
      sampler_name: 'Euler a',
    });
    expect(infotext(p, 0)).toBe(
      'a cat\nNegative prompt: ugly\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.0, ' +
        'Seed: 123, Size: 512x512, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.10.1',
    );
    expect(infotext(plan({ prompt: 'p', seed: 1 }), 0)).not.toContain('Negative prompt');
  });

  it('lists every seed but infotexts only for produced images', () => {
    const p = plan({ seed: 5, batch_size: 2, n_iter: 2 });
    const info = infoObject(p, [0, 1], '20260101120000');
    expect(info).toMatchObject({ seed: 5, all_seeds: [5, 6, 7, 8], index_of_first_image: 0, batch_size: 2 });
    expect(info.infotexts).toHaveLength(2);
    expect(info.infotexts[1]).toContain('Seed: 6,');
  });
});

describe('resolveSampler', () => {
  it('splits "<sampler> <scheduler>" and falls back to the first sampler', () => {
    expect(resolveSampler('Euler a Karras', null)).toEqual({ sampler: 'Euler a', scheduler: 'Karras' });
    expect(resolveSampler('DPM++ 2M Karras', null)).toEqual({ sampler: 'DPM++ 2M', scheduler: 'Automatic' });
    expect(resolveSampler('Euler', 'sgm_uniform')).toEqual({ sampler: 'Euler', scheduler: 'SGM Uniform' });
    expect(resolveSampler('No Such Sampler', null)).toEqual({ sampler: 'DPM++ 2M', scheduler: 'Automatic' });
  });
});

describe('hires infotext', () => {
  it('prints floats as Python does and ints as ints', () => {
    const p = plan({
      seed: 1,
      enable_hr: true,
      hr_scale: 2,
      hr_second_pass_steps: 7,
      denoising_strength: 1,
      hr_upscaler: 'Latent',
    });
    expect(infotext(p, 0)).toContain(
      'Denoising strength: 1.0, Hires upscale: 2.0, Hires steps: 7, Hires upscaler: Latent, Hires CFG Scale: 1.0, Version',
    );
  });
});
