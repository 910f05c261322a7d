import { describe, expect, it } from 'vitest';
import { SdWebUiRejectedError } from '../../../core/errors.ts';
import type { SdWebUi } from '../../../core/ports.ts';
import { prepareHostContext } from '../../../core/workflow/host-context.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';

/** A host that answers only the lists the scheduler needs; the kit's 1.8 samplers where it matters. */
function host(schedulers: string[] | undefined): SdWebUi {
  const unused = async () => {
    throw new Error('not used');
  };
  return {
    txt2img: unused,
    progress: unused,
    interrupt: unused,
    scriptTitles: unused,
    checkpoints: unused,
    samplers: async () => ['DPM++ 2M Karras', 'DPM++ 2M', 'Euler a', 'Euler'],
    schedulers: async () => schedulers,
    upscalers: async () => ['Latent', 'R-ESRGAN 4x+'],
    adetailerModels: async () => undefined,
    controlNetModels: async () => undefined,
  };
}

const prepare = (sd: SdWebUi, params: Record<string, unknown>) =>
  prepareHostContext(jobRecord({ params: generationParams(params) }), {
    sd,
    hostId: 'gpu:7860',
    images: {} as never,
    fetcher: {} as never,
  });

describe('a scheduler on hosts with and without the setting', () => {
  it('is sent as it is to a host with schedulers', async () => {
    const { params, note } = await prepare(host(['karras', 'Karras']), {
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
    });
    expect(params).toMatchObject({ sampler_name: 'DPM++ 2M', scheduler: 'Karras' });
    expect(note).toBeUndefined();
  });

  it('becomes the old combined sampler name on a host before 1.9, with a note saying so', async () => {
    const { params, note } = await prepare(host(undefined), {
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
    });
    expect(params.sampler_name).toBe('DPM++ 2M Karras');
    expect(params.scheduler).toBeUndefined();
    expect(note).toBe(
      'GPU host gpu:7860 has no scheduler setting (SD WebUI before 1.9): sampler "DPM++ 2M Karras" was sent for sampler "DPM++ 2M" with scheduler "Karras".',
    );
  });

  it('is left out where no combined name exists, with a note; "Automatic" silently', async () => {
    const dropped = await prepare(host(undefined), { sampler_name: 'Euler', scheduler: 'Exponential' });
    expect(dropped.params).toMatchObject({ sampler_name: 'Euler' });
    expect(dropped.params.scheduler).toBeUndefined();
    expect(dropped.note).toMatch(/scheduler "Exponential" was not sent/);
    const automatic = await prepare(host(undefined), { sampler_name: 'Euler', scheduler: 'Automatic' });
    expect(automatic.params.scheduler).toBeUndefined();
    expect(automatic.note).toBeUndefined();
  });
});

describe("names the job needs, checked against the host's own lists", () => {
  it('refuses one the host lacks with its closest names, and checks none whose list the host cannot give', async () => {
    await expect(prepare(host(undefined), { sampler_name: 'Euler b' })).rejects.toThrow(
      new SdWebUiRejectedError(
        'sampler_name: "Euler b" is not on the GPU host gpu:7860; the closest it has: Euler a, Euler, DPM++ 2M, DPM++ 2M Karras',
      ),
    );
    await expect(
      prepare(host(undefined), { sampler_name: 'Euler', enable_hr: true, hr_upscaler: 'Latent (bicubic)' }),
    ).rejects.toThrow(
      /^hr_upscaler: "Latent \(bicubic\)" is not on the GPU host gpu:7860; the closest it has: Latent, /,
    );
    // This host has no ADetailer (its list is unknown): the model goes to the host unchecked.
    const { params } = await prepare(host(undefined), {
      sampler_name: 'Euler',
      adetailer: [{ model: 'face_yolov8n.pt' }],
    });
    expect(params.adetailer).toEqual([{ model: 'face_yolov8n.pt' }]);
  });
});
