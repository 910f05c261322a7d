import { z } from 'zod';
import { ALWAYSON_SCRIPTS, SELECTABLE_SCRIPTS } from './catalog.ts';
import { httpException, type SdApiError } from './errors.ts';
import type { HostProfile } from './flavour.ts';
import { locateJsonError } from './json-error.ts';

/**
 * The txt2img request as A1111 / reForge (pydantic v1) parse it: every field optional, unknown keys
 * dropped, values coerced the way pydantic v1 coerces them ("20" → 20, 7.9 → 7 for an int, "yes" → true),
 * and failures reported in pydantic v1's words.
 */

export interface PydanticError {
  loc: Array<string | number>;
  msg: string;
  type: string;
  ctx?: Record<string, unknown>;
}

const ERRORS = {
  int: ['value is not a valid integer', 'type_error.integer'],
  float: ['value is not a valid float', 'type_error.float'],
  bool: ['value could not be parsed to a boolean', 'type_error.bool'],
  str: ['str type expected', 'type_error.str'],
  list: ['value is not a valid list', 'type_error.list'],
  dict: ['value is not a valid dict', 'type_error.dict'],
  none: ['none is not an allowed value', 'type_error.none.not_allowed'],
} as const;
type ErrorKind = keyof typeof ERRORS;

/** Returns undefined when pydantic v1 would reject the value. */
type Coerce<T> = (v: unknown) => T | undefined;

const INT = /^\s*[-+]?\d+\s*$/;
const FLOAT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?\s*$/i;
const TRUE = ['1', 'on', 't', 'true', 'y', 'yes'];
const FALSE = ['0', 'off', 'f', 'false', 'n', 'no'];

export const toInt: Coerce<number> = (v) => {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return Number(v);
  return typeof v === 'string' && INT.test(v) ? Number.parseInt(v, 10) : undefined;
};
export const toFloat: Coerce<number> = (v) => {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return Number(v);
  return typeof v === 'string' && FLOAT.test(v) ? Number(v) : undefined;
};
export const toBool: Coerce<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  const key = typeof v === 'string' ? v.toLowerCase() : typeof v === 'number' ? String(v) : undefined;
  if (key === undefined) return undefined;
  return TRUE.includes(key) ? true : FALSE.includes(key) ? false : undefined;
};
export const toStr: Coerce<string> = (v) => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : undefined;
};
const toList: Coerce<unknown[]> = (v) => (Array.isArray(v) ? v : undefined);
const toDict: Coerce<Record<string, unknown>> = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function reject(ctx: z.RefinementCtx, kind: ErrorKind, path: number[] = []): never {
  const [message, type] = ERRORS[kind];
  ctx.addIssue({ code: 'custom', message, params: { type }, path });
  return z.NEVER;
}

/** A field pydantic declares Optional[T]: null stays null. */
const opt = <T>(coerce: Coerce<T>, kind: ErrorKind, fallback: T | null) =>
  z
    .unknown()
    .transform((v, ctx): T | null => (v === null ? null : (coerce(v) ?? reject(ctx, kind))))
    .default(() => fallback as never); // `as never`: zod's default() types cannot follow a generic T

/** A field declared without Optional: null is a 422. */
const req = <T>(coerce: Coerce<T>, kind: ErrorKind, fallback: () => T) =>
  z
    .unknown()
    .transform((v, ctx): T => (v === null ? reject(ctx, 'none') : (coerce(v) ?? reject(ctx, kind))))
    .default(fallback as never);

const int = (d: number | null) => opt(toInt, 'int', d);
const float = (d: number | null) => opt(toFloat, 'float', d);
const bool = (d: boolean | null) => opt(toBool, 'bool', d);
const str = (d: string | null) => opt(toStr, 'str', d);
const dict = () => opt(toDict, 'dict', null);
const strList = () =>
  z
    .unknown()
    .transform((v, ctx): string[] | null => {
      if (v === null) return null;
      if (!Array.isArray(v)) return reject(ctx, 'list');
      return v.map((item, i) =>
        item === null ? reject(ctx, 'none', [i]) : (toStr(item) ?? reject(ctx, 'str', [i])),
      );
    })
    .default(null);

/** Fields in the order pydantic reports them (§3 of the reference; reForge's `hr_cfg` included). */
export const txt2imgRequestSchema = z.object({
  prompt: str(''),
  negative_prompt: str(''),
  styles: strList(),
  seed: int(-1),
  subseed: int(-1),
  subseed_strength: float(0),
  seed_resize_from_h: int(-1),
  seed_resize_from_w: int(-1),
  sampler_name: str(null),
  scheduler: str(null),
  batch_size: int(1),
  n_iter: int(1),
  steps: int(50),
  cfg_scale: float(7),
  width: int(512),
  height: int(512),
  restore_faces: bool(null),
  tiling: bool(null),
  do_not_save_samples: bool(false),
  do_not_save_grid: bool(false),
  eta: float(null),
  denoising_strength: float(null), // the base class's None wins in A1111's model generator
  s_min_uncond: float(null),
  s_churn: float(null),
  s_tmax: float(null),
  s_tmin: float(null),
  s_noise: float(null),
  override_settings: dict(),
  override_settings_restore_afterwards: bool(true),
  refiner_checkpoint: str(null),
  refiner_switch_at: float(null),
  disable_extra_networks: bool(false),
  firstpass_image: str(null),
  comments: dict(),
  enable_hr: bool(false),
  firstphase_width: int(0),
  firstphase_height: int(0),
  hr_scale: float(2),
  hr_upscaler: str(null),
  hr_second_pass_steps: int(0),
  hr_resize_x: int(0),
  hr_resize_y: int(0),
  hr_checkpoint_name: str(null),
  hr_sampler_name: str(null),
  hr_scheduler: str(null),
  hr_prompt: str(''),
  hr_negative_prompt: str(''),
  hr_cfg: float(1),
  force_task_id: str(null),
  sampler_index: req(toStr, 'str', () => 'Euler'),
  script_name: str(null),
  script_args: req(toList, 'list', () => []),
  send_images: req(toBool, 'bool', () => true),
  save_images: req(toBool, 'bool', () => false),
  alwayson_scripts: req(toDict, 'dict', () => ({})),
  infotext: str(null),
});

export type Txt2ImgRequest = z.output<typeof txt2imgRequestSchema>;

export type ParseResult = { ok: true; request: Txt2ImgRequest } | { ok: false; detail: PydanticError[] };

/** Zod issues → FastAPI's `detail` list. */
export function toPydanticErrors(error: z.ZodError): PydanticError[] {
  return error.issues.map((issue) => ({
    loc: ['body', ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))],
    msg: issue.message,
    type: String((issue as { params?: { type?: unknown } }).params?.type ?? 'value_error'),
  }));
}

export type JsonBody = { ok: true; value: Record<string, unknown> } | { ok: false; detail: PydanticError[] };

const bodyError = (msg: string, type: string): JsonBody => ({
  ok: false,
  detail: [{ loc: ['body'], msg, type }],
});

/** Decodes a request body that FastAPI binds to a dict or model: missing, bad JSON and non-dicts are 422s. */
export function parseJsonBody(raw: string, contentType?: string): JsonBody {
  if (raw.length === 0) return bodyError('field required', 'value_error.missing');
  const mime = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mime && !(mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json')))) {
    return bodyError('value is not a valid dict', 'type_error.dict'); // FastAPI hands pydantic the raw bytes
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    const e = locateJsonError(raw);
    const ctx = { msg: e.reason, doc: raw, pos: e.pos, lineno: e.lineno, colno: e.colno };
    return {
      ok: false,
      detail: [{ loc: ['body', e.pos], msg: e.message, type: 'value_error.jsondecode', ctx }],
    };
  }
  if (json === null) return bodyError('field required', 'value_error.missing');
  const value = toDict(json);
  return value === undefined
    ? bodyError('value is not a valid dict', 'type_error.dict')
    : { ok: true, value };
}

/**
 * Parses a raw txt2img body as FastAPI 0.94 + pydantic v1 would, down to the 422 `detail`. Fields
 * the host does not know (`unknownFields`) are dropped unread, as pydantic drops unknown keys.
 */
export function parseTxt2ImgBody(
  raw: string,
  contentType?: string,
  unknownFields: readonly string[] = [],
): ParseResult {
  const body = parseJsonBody(raw, contentType);
  if (!body.ok) return body;
  const known = Object.fromEntries(Object.entries(body.value).filter(([k]) => !unknownFields.includes(k)));
  const parsed = txt2imgRequestSchema.safeParse(known);
  return parsed.success
    ? { ok: true, request: parsed.data }
    : { ok: false, detail: toPydanticErrors(parsed.error) };
}

const notFound = (name: string) => httpException(422, `Script '${name}' not found`);
const matches = (titles: string[], name: string) =>
  titles.some((t) => t.toLowerCase() === name.toLowerCase());

/**
 * The checks text2imgapi makes before queueing, in its order: `script_name` must be a selectable
 * script; on hosts that validate it (1.8) the sampler must be one of theirs (404); each
 * `alwayson_scripts` key must be an alwayson script (case-insensitive title). A1111 and reForge
 * answer an unknown key with "Script '<key>' not found" (their `get_script` raises before the
 * "always on script … not found" branch can run).
 */
export function checkScripts(request: Txt2ImgRequest, profile?: HostProfile): SdApiError | undefined {
  const { script_name: scriptName, alwayson_scripts: alwayson } = request;
  if (scriptName && !matches(SELECTABLE_SCRIPTS, scriptName)) return notFound(scriptName);
  const sampler = request.sampler_name || request.sampler_index;
  if (profile?.rejectsUnknownSampler && !profile.samplers.some((s) => s.name === sampler)) {
    return httpException(404, 'Sampler not found');
  }
  for (const key of Object.keys(alwayson)) {
    if (matches(SELECTABLE_SCRIPTS, key)) {
      return httpException(422, 'Cannot have a selectable script in the always on scripts params');
    }
    if (!matches(ALWAYSON_SCRIPTS, key)) return notFound(key);
  }
  return undefined;
}
