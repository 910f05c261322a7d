/** What the simulated server has installed: checkpoints, samplers, schedulers, upscalers, scripts, options. */

const MODELS_DIR = '/opt/sd-webui/models/Stable-diffusion';

export interface Checkpoint {
  title: string;
  model_name: string;
  hash: string;
  sha256: string;
  filename: string;
  config: null;
  /** What infotexts call `Model:` (the file stem). */
  stem: string;
  shorthash: string;
  aliases: string[];
}

function checkpoint(name: string, hash: string, sha256: string): Checkpoint {
  const shorthash = sha256.slice(0, 10);
  const noExt = name.replace(/\.[^./]+$/, '');
  const stem = noExt.slice(noExt.lastIndexOf('/') + 1);
  const modelName = noExt.replaceAll('/', '_');
  const title = `${name} [${shorthash}]`;
  return {
    title,
    model_name: modelName,
    hash,
    sha256,
    filename: `${MODELS_DIR}/${name}`,
    config: null,
    stem,
    shorthash,
    aliases: [hash, modelName, title, name, stem, `${name} [${hash}]`, shorthash, sha256],
  };
}

export const CHECKPOINTS: readonly Checkpoint[] = [
  checkpoint(
    'sd_xl_base_1.0.safetensors',
    'be9edd61',
    '31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b',
  ),
  checkpoint(
    'SDXL/animagineXL40_v4Opt.safetensors',
    '0b5c5e0a',
    '6327eca98bfb6538dd7a4edce22484a1bbc57a8cff6b11d075d40da1afb847ac',
  ),
  checkpoint(
    'v1-5-pruned-emaonly.safetensors',
    'cc6cb27103',
    '6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa',
  ),
];

export const DEFAULT_CHECKPOINT = CHECKPOINTS[0] as Checkpoint;

/** Exact lookup by any alias (title, file name, model_name, stem, hashes), as `checkpoint_aliases`. */
export function findCheckpoint(name: unknown): Checkpoint | undefined {
  return typeof name === 'string' ? CHECKPOINTS.find((c) => c.aliases.includes(name)) : undefined;
}

/** `get_closet_checkpoint_match`: an alias, else the shortest title containing the name (with or without a [hash]). */
export function closestCheckpoint(name: string): Checkpoint | undefined {
  const byTitle = (s: string) =>
    CHECKPOINTS.filter((c) => c.title.includes(s)).sort((a, b) => a.title.length - b.title.length)[0];
  return findCheckpoint(name) ?? byTitle(name) ?? byTitle(name.replace(/\s*\[\w+\]\s*$/, ''));
}

export const SAMPLERS = [
  { name: 'DPM++ 2M', aliases: ['k_dpmpp_2m'], options: { scheduler: 'karras' } },
  { name: 'DPM++ SDE', aliases: ['k_dpmpp_sde'], options: { scheduler: 'karras', second_order: 'True' } },
  { name: 'DPM++ 2M SDE', aliases: ['k_dpmpp_2m_sde'], options: { scheduler: 'exponential' } },
  { name: 'Euler a', aliases: ['k_euler_a', 'k_euler_ancestral'], options: { uses_ensd: 'True' } },
  { name: 'Euler', aliases: ['k_euler'], options: {} },
  { name: 'LMS', aliases: ['k_lms'], options: {} },
  { name: 'Heun', aliases: ['k_heun'], options: { second_order: 'True' } },
  { name: 'DDIM', aliases: ['ddim'], options: {} },
  { name: 'UniPC', aliases: ['unipc'], options: {} },
  { name: 'LCM', aliases: ['k_lcm'], options: {} },
] as const;

const scheduler = (
  name: string,
  label: string,
  rho = -1,
  inner = false,
  aliases: string[] | null = null,
) => ({
  name,
  label,
  aliases,
  default_rho: rho,
  need_inner_model: inner,
});

export const SCHEDULERS = [
  scheduler('automatic', 'Automatic'),
  scheduler('uniform', 'Uniform', -1, true),
  scheduler('karras', 'Karras', 7),
  scheduler('exponential', 'Exponential'),
  scheduler('polyexponential', 'Polyexponential', 1),
  scheduler('sgm_uniform', 'SGM Uniform', -1, true, ['SGMUniform']),
  scheduler('kl_optimal', 'KL Optimal'),
  scheduler('align_your_steps', 'Align Your Steps'),
  scheduler('simple', 'Simple'),
  scheduler('normal', 'Normal', -1, true),
  scheduler('ddim', 'DDIM', -1, true),
  scheduler('beta', 'Beta'),
];

/**
 * `get_sampler_and_scheduler`: "DPM++ 2M Karras" splits into sampler and scheduler, an unknown
 * sampler falls back to the first one, and a scheduler that is the sampler's own default reads "Automatic".
 */
export function resolveSampler(samplerName: string, schedulerName: string | null) {
  const [automatic] = SCHEDULERS as [(typeof SCHEDULERS)[number]];
  let found = SCHEDULERS.find((s) => s.name === schedulerName || s.label === schedulerName) ?? automatic;
  let name = samplerName;
  for (const s of SCHEDULERS) {
    const suffix = [s.label, s.name, ...(s.aliases ?? [])].find((option) => name.endsWith(` ${option}`));
    if (suffix !== undefined) {
      found = s;
      name = name.slice(0, -(suffix.length + 1));
    }
  }
  const sampler = SAMPLERS.find((s) => s.name === name) ?? SAMPLERS[0];
  const ownDefault: string | undefined =
    'scheduler' in sampler.options ? sampler.options.scheduler : undefined;
  if (ownDefault === found.name) found = automatic;
  return { sampler: sampler.name, scheduler: found.label };
}

export const LATENT_UPSCALE_MODES = [
  'Latent',
  'Latent (antialiased)',
  'Latent (bicubic)',
  'Latent (bicubic antialiased)',
  'Latent (nearest)',
  'Latent (nearest-exact)',
];

const upscaler = (name: string, modelName: string | null, modelPath: string | null, scale = 4) => ({
  name,
  model_name: modelName,
  model_path: modelPath,
  model_url: null,
  scale,
});

export const UPSCALERS = [
  upscaler('None', null, null),
  upscaler('Lanczos', null, null),
  upscaler('Nearest', null, null),
  upscaler('ESRGAN_4x', 'ESRGAN_4x', 'https://github.com/cszn/KAIR/releases/download/esrgan/ESRGAN.pth'),
  upscaler(
    'R-ESRGAN 4x+',
    null,
    'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth',
  ),
  upscaler('4x-UltraSharp', '4x-UltraSharp', '/opt/sd-webui/models/ESRGAN/4x-UltraSharp.pth'),
];

export const isKnownUpscaler = (name: string): boolean =>
  LATENT_UPSCALE_MODES.includes(name) || UPSCALERS.some((u) => u.name === name);

/** ADetailer's detectors as GET /adetailer/v1/ad_model lists them (the extension's defaults). */
export const ADETAILER_MODELS = [
  'face_yolov8n.pt',
  'face_yolov8s.pt',
  'hand_yolov8n.pt',
  'person_yolov8n-seg.pt',
  'person_yolov8s-seg.pt',
  'yolov8x-worldv2.pt',
  'mediapipe_face_full',
  'mediapipe_face_short',
  'mediapipe_face_mesh',
  'mediapipe_face_mesh_eyes_only',
];

/** ControlNet's models as GET /controlnet/model_list lists them: "name [hash]". */
export const CONTROLNET_MODELS = [
  'control_v11p_sd15_canny [d14c016b]',
  'control_v11p_sd15_openpose [cab727d4]',
  'control_v11f1p_sd15_depth [cfd03158]',
];

/** Script titles; `/scripts` lists them lower-cased, requests match them case-insensitively. */
export const SELECTABLE_SCRIPTS = ['Prompt matrix', 'Prompts from file or textbox', 'X/Y/Z plot'];
export const ALWAYSON_SCRIPTS = ['ADetailer', 'ControlNet', 'Dynamic Prompts v2.17.1', 'Regional Prompter'];
const IMG2IMG_ONLY = ['Loopback', 'Outpainting mk2', "Poor man's outpainting", 'SD upscale'];

export function scriptsList() {
  const lower = (titles: string[]) => titles.map((t) => t.toLowerCase());
  return {
    txt2img: lower([...SELECTABLE_SCRIPTS, ...ALWAYSON_SCRIPTS]),
    img2img: lower([...SELECTABLE_SCRIPTS, ...IMG2IMG_ONLY, ...ALWAYSON_SCRIPTS]),
  };
}

/** Settings that come from extensions (ControlNet, ADetailer, Dynamic Prompts), not from A1111 itself. */
export const EXTENSION_OPTIONS = [
  'control_net_unit_count',
  'control_net_no_detectmap',
  'ad_max_models',
  'dp_ignore_whitespace',
];

/** A representative subset of the real settings (the real dict has several hundred keys). */
export function defaultOptions(): Record<string, unknown> {
  return {
    sd_model_checkpoint: DEFAULT_CHECKPOINT.title,
    sd_checkpoint_hash: DEFAULT_CHECKPOINT.sha256,
    sd_vae: 'Automatic',
    sd_vae_overrides_per_model_preferences: true,
    CLIP_stop_at_last_layers: 1,
    eta_noise_seed_delta: 0,
    randn_source: 'GPU',
    samples_format: 'png',
    grid_format: 'png',
    jpeg_quality: 80,
    webp_lossless: false,
    return_grid: true,
    grid_only_if_multiple: true,
    enable_pnginfo: true,
    save_images_add_number: true,
    outdir_txt2img_samples: 'output/txt2img-images',
    outdir_txt2img_grids: 'output/txt2img-grids',
    img2img_fix_steps: false,
    face_restoration: false,
    face_restoration_model: 'CodeFormer',
    live_previews_enable: true,
    show_progress_every_n_steps: 10,
    show_progress_type: 'Approx NN',
    add_model_hash_to_info: true,
    add_model_name_to_info: true,
    add_version_to_infotext: true,
    api_enable_requests: true,
    api_forbid_local_requests: true,
    sd_checkpoint_cache: 0,
    token_merging_ratio: 0,
    control_net_unit_count: 3,
    control_net_no_detectmap: false,
    ad_max_models: 4,
    dp_ignore_whitespace: false,
    hires_fix_use_firstpass_conds: false,
  };
}
