import { describe, expect, it } from 'vitest';
import { locateJsonError } from '../../../local/simulator/json-error.ts';
import { checkScripts, parseJsonBody, parseTxt2ImgBody } from '../../../local/simulator/validate.ts';

const parse = (body: unknown) => parseTxt2ImgBody(JSON.stringify(body), 'application/json');

describe('txt2img request schema', () => {
  it('fills the API defaults and drops unknown keys', () => {
    const result = parse({ prompt: 'a cat', cfg: 3, clip_skip: 2 });
    if (!result.ok) throw new Error('expected a valid request');
    const r = result.request;
    expect(r).toMatchObject({ prompt: 'a cat', width: 512, height: 512, steps: 50, cfg_scale: 7, seed: -1 });
    expect(r).toMatchObject({
      sampler_name: null,
      sampler_index: 'Euler',
      send_images: true,
      script_args: [],
    });
    expect(r).not.toHaveProperty('cfg');
    expect(r).not.toHaveProperty('clip_skip');
  });

  it('coerces like pydantic v1', () => {
    const result = parse({
      steps: '20',
      width: 511.9,
      cfg_scale: '6.5',
      enable_hr: 'yes',
      prompt: 3,
      restore_faces: 0,
    });
    if (!result.ok) throw new Error('expected a valid request');
    expect(result.request).toMatchObject({
      steps: 20,
      width: 511,
      cfg_scale: 6.5,
      enable_hr: true,
      prompt: '3',
    });
    expect(result.request.restore_faces).toBe(false);
  });

  it('reports every type error in field order, pydantic v1 style', () => {
    const result = parse({
      send_images: null,
      steps: 'abc',
      cfg_scale: 'x',
      enable_hr: 'maybe',
      prompt: {},
      styles: ['a', 1, []],
      alwayson_scripts: [],
      script_args: null,
    });
    expect(result).toEqual({
      ok: false,
      detail: [
        { loc: ['body', 'prompt'], msg: 'str type expected', type: 'type_error.str' },
        { loc: ['body', 'styles', 2], msg: 'str type expected', type: 'type_error.str' },
        { loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' },
        { loc: ['body', 'cfg_scale'], msg: 'value is not a valid float', type: 'type_error.float' },
        {
          loc: ['body', 'enable_hr'],
          msg: 'value could not be parsed to a boolean',
          type: 'type_error.bool',
        },
        {
          loc: ['body', 'script_args'],
          msg: 'none is not an allowed value',
          type: 'type_error.none.not_allowed',
        },
        {
          loc: ['body', 'send_images'],
          msg: 'none is not an allowed value',
          type: 'type_error.none.not_allowed',
        },
        { loc: ['body', 'alwayson_scripts'], msg: 'value is not a valid dict', type: 'type_error.dict' },
      ],
    });
  });

  it('lets null through in Optional fields and rejects it in the others', () => {
    expect(parse({ steps: null, seed: null, prompt: null }).ok).toBe(true);
    for (const field of ['script_args', 'send_images', 'save_images', 'alwayson_scripts', 'sampler_index']) {
      expect(parse({ [field]: null })).toEqual({
        ok: false,
        detail: [
          { loc: ['body', field], msg: 'none is not an allowed value', type: 'type_error.none.not_allowed' },
        ],
      });
    }
  });
});

describe('request bodies', () => {
  it('answers bad JSON with the position Python reports', () => {
    expect(parseJsonBody('{"steps": }', 'application/json')).toEqual({
      ok: false,
      detail: [
        {
          loc: ['body', 10],
          msg: 'Expecting value: line 1 column 11 (char 10)',
          type: 'value_error.jsondecode',
          ctx: { msg: 'Expecting value', doc: '{"steps": }', pos: 10, lineno: 1, colno: 11 },
        },
      ],
    });
  });

  it.each([
    ['abc', 'Expecting value', 0],
    ['{"a":1,}', 'Expecting property name enclosed in double quotes', 7],
    ['{"a" 1}', "Expecting ':' delimiter", 5],
    ['[1 2]', "Expecting ',' delimiter", 3],
    ['{"a":1}x', 'Extra data', 7],
    ['{"a":"b', 'Unterminated string starting at', 5],
    ['{\n "a": tru}', 'Expecting value', 8],
  ])('locates the error in %j', (doc, reason, pos) => {
    expect(locateJsonError(doc)).toMatchObject({ reason, pos });
  });

  it('reports line and column on later lines', () => {
    expect(locateJsonError('{\n "a": ,\n}').message).toBe('Expecting value: line 2 column 7 (char 8)');
  });

  it('treats an empty body, null and non-dicts as FastAPI does', () => {
    const missing = {
      ok: false,
      detail: [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }],
    };
    const notDict = {
      ok: false,
      detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }],
    };
    expect(parseJsonBody('', 'application/json')).toEqual(missing);
    expect(parseJsonBody('null', 'application/json')).toEqual(missing);
    expect(parseJsonBody('[1]', 'application/json')).toEqual(notDict);
    expect(parseJsonBody('{"steps":20}', 'application/x-www-form-urlencoded')).toEqual(notDict);
    expect(parseJsonBody('{"steps":20}', undefined)).toEqual({ ok: true, value: { steps: 20 } });
  });
});

describe('script checks', () => {
  const request = (body: unknown) => {
    const result = parse(body);
    if (!result.ok) throw new Error('expected a valid request');
    return result.request;
  };

  it('accepts the installed alwayson scripts, case-insensitively', () => {
    const alwayson = {
      adetailer: {},
      ControlNet: { args: [] },
      'dynamic prompts v2.17.1': {},
      'REGIONAL PROMPTER': {},
    };
    expect(checkScripts(request({ alwayson_scripts: alwayson, script_name: 'x/y/z plot' }))).toBeUndefined();
  });

  it('rejects unknown scripts with 422, as get_script does', () => {
    const unknown = checkScripts(request({ alwayson_scripts: { 'Face Editor': {} } }));
    expect(unknown?.status).toBe(422);
    expect(unknown?.body).toEqual({
      error: 'HTTPException',
      detail: "Script 'Face Editor' not found",
      body: '',
      errors: '', // str(HTTPException) under starlette 0.26
    });
    expect(checkScripts(request({ script_name: 'nope' }))?.status).toBe(422);
    const selectable = checkScripts(request({ alwayson_scripts: { 'X/Y/Z plot': {} } }));
    expect(selectable?.body).toMatchObject({
      detail: 'Cannot have a selectable script in the always on scripts params',
    });
  });
});
