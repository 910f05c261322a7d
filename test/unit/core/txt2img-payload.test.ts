import { describe, expect, it } from 'vitest';
import { mergeParams } from '../../../core/presets/merge.ts';
import { buildTxt2ImgPayload } from '../../../core/txt2img-payload.ts';

const seed = () => 1000;

describe('txt2img payload of every sdreforge parameter', () => {
  it('maps checkpoint and clip_skip to override_settings and leaves unset options out', () => {
    const params = mergeParams({}, { prompt: 'p', checkpoint: 'sd_xl_base_1.0', clip_skip: 2 }, seed);
    const payload = buildTxt2ImgPayload(params, 0);
    expect(payload.override_settings).toEqual({
      sd_model_checkpoint: 'sd_xl_base_1.0',
      CLIP_stop_at_last_layers: 2,
    });
    expect(payload).not.toHaveProperty('clip_skip');
    expect(payload).not.toHaveProperty('checkpoint');
    expect(payload).not.toHaveProperty('enable_hr');
    expect(payload).not.toHaveProperty('alwayson_scripts');
    expect(JSON.stringify(payload)).not.toContain('null');
  });

  it('sends hires fields only with enable_hr, and hr_cfg defaulting to cfg_scale', () => {
    const params = mergeParams(
      {},
      {
        prompt: 'p',
        cfg_scale: 5,
        enable_hr: true,
        hr_scale: 1.5,
        hr_upscaler: 'Latent',
        denoising_strength: 0.5,
        hr_second_pass_steps: 10,
      },
      seed,
    );
    expect(buildTxt2ImgPayload(params, 0)).toMatchObject({
      enable_hr: true,
      hr_scale: 1.5,
      hr_upscaler: 'Latent',
      hr_second_pass_steps: 10,
      denoising_strength: 0.5,
      hr_cfg: 5,
    });
  });

  it('builds ADetailer args [enable, skip_img2img, tab...] and skips "None" slots', () => {
    const params = mergeParams(
      {},
      {
        prompt: 'p',
        adetailer: [
          { model: 'face_yolov8n.pt', confidence: 0.4, prompt: 'smile', steps: 12 },
          { model: 'None' },
          { model: 'hand_yolov8n.pt' },
        ],
      },
      seed,
    );
    const scripts = buildTxt2ImgPayload(params, 0).alwayson_scripts as Record<string, { args: unknown[] }>;
    expect(scripts.ADetailer?.args).toEqual([
      true,
      false,
      {
        ad_model: 'face_yolov8n.pt',
        ad_confidence: 0.4,
        ad_prompt: 'smile',
        ad_steps: 12,
        ad_use_steps: true,
      },
      { ad_model: 'hand_yolov8n.pt' },
    ]);
  });

  it('builds ControlNet units with enabled, string modes and the inlined image', () => {
    const params = mergeParams(
      {},
      {
        prompt: 'p',
        controlnet: [
          {
            image_url: 'https://example.com/pose.png',
            model: 'control_openpose [abc]',
            module: 'openpose',
            weight: 0.8,
            control_mode: 'ControlNet is more important',
            resize_mode: 'Just Resize',
            pixel_perfect: true,
          },
        ],
      },
      seed,
    );
    const scripts = buildTxt2ImgPayload(params, 0, { controlNetImages: ['BASE64'] })
      .alwayson_scripts as Record<string, { args: Array<Record<string, unknown>> }>;
    expect(scripts.ControlNet?.args).toEqual([
      {
        enabled: true,
        module: 'openpose',
        model: 'control_openpose [abc]',
        weight: 0.8,
        control_mode: 'ControlNet is more important',
        resize_mode: 'Just Resize',
        pixel_perfect: true,
        image: 'BASE64',
      },
    ]);
  });

  it('refuses a ControlNet unit without a model or an image source, naming the unit', () => {
    expect(() =>
      mergeParams({}, { prompt: 'p', controlnet: [{ image_url: 'https://e.com/a.png' }] }, seed),
    ).toThrow(/controlnet/);
    expect(() => mergeParams({}, { prompt: 'p', controlnet: [{ model: 'm' }] }, seed)).toThrow(/controlnet/);
  });

  it('builds the 20 Regional Prompter args in the extension order', () => {
    const params = mergeParams(
      {},
      {
        prompt: 'a BREAK b',
        rp_active: true,
        rp_mode: 'Matrix',
        rp_matrix_submode: 'Rows',
        rp_divide_ratio: '1,2',
        rp_use_base: true,
        rp_base_ratio: '0.3',
        rp_lora_stop_step: 5,
      },
      seed,
    );
    const args = (buildTxt2ImgPayload(params, 0).alwayson_scripts as Record<string, { args: unknown[] }>)[
      'Regional Prompter'
    ]?.args;
    expect(args).toHaveLength(20);
    expect(args?.slice(0, 9)).toEqual([true, false, 'Matrix', 'Rows', 'Mask', 'Prompt', '1,2', '0.3', true]);
    expect(args?.[17]).toBe('5');
  });

  it('builds Dynamic Prompts args under the host title and keeps seed + k in random mode', () => {
    const params = mergeParams(
      {},
      { prompt: '{red|blue} car', enable_dynamic_prompts: true, max_generations: 4 },
      seed,
    );
    const payload = buildTxt2ImgPayload(params, 2, { dynamicPromptsTitle: 'Dynamic Prompts v2.18.0' });
    const args = (payload.alwayson_scripts as Record<string, { args: unknown[] }>)['Dynamic Prompts v2.18.0']
      ?.args;
    expect(args).toHaveLength(18);
    expect(args?.[0]).toBe(true);
    expect(args?.[10]).toBe(false);
    expect(args?.[15]).toBe(4);
    expect(payload.seed).toBe(1002);
  });

  it('keeps the base seed and advances subseeds with a variation strength', () => {
    const params = mergeParams(
      {},
      { prompt: 'p', seed: 50, subseed: 900, subseed_strength: 0.3, batch_size: 4 },
      seed,
    );
    expect(buildTxt2ImgPayload(params, 2)).toMatchObject({ seed: 50, subseed: 908, subseed_strength: 0.3 });
  });
});

describe('merging a preset with the caller', () => {
  it('wraps the prompt in the prefix and suffix and joins the negative prompts', () => {
    const params = mergeParams(
      {
        prompt_prefix: 'masterpiece',
        prompt_suffix: 'sharp',
        negative_prompt: 'lowres',
        steps: 30,
        width: 768,
      },
      { prompt: 'a fox', negative_prompt: 'blurry', steps: 12 },
      seed,
    );
    expect(params).toMatchObject({
      prompt: 'masterpiece, a fox, sharp',
      negative_prompt: 'lowres, blurry',
      steps: 12,
      width: 768,
      seed: 1000,
    });
  });

  it('wraps only the first region when Regional Prompter splits the prompt', () => {
    const params = mergeParams(
      { prompt_prefix: 'best', rp_active: true },
      { prompt: 'a cat BREAK a dog' },
      seed,
    );
    expect(params.prompt).toBe('best, a cat BREAK a dog');
  });

  it('refines the preset ADetailer model by position', () => {
    const params = mergeParams(
      { adetailer: [{ model: 'face_yolov8n.pt', confidence: 0.5 }] },
      { prompt: 'p', adetailer: [{ model: 'face_yolov8s.pt' }] },
      seed,
    );
    expect(params.adetailer).toEqual([{ model: 'face_yolov8s.pt', confidence: 0.5 }]);
  });
});
