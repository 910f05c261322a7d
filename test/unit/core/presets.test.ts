import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPresetCatalog, parsePreset } from '../../../adapters/preset-files.ts';
import { mergeParams } from '../../../core/presets/merge.ts';

const shipped = fileURLToPath(new URL('../../../presets', import.meta.url));

describe('preset files', () => {
  it('loads the shipped presets, the default among them', async () => {
    const catalog = await loadPresetCatalog(shipped);
    expect(catalog.problems).toEqual([]);
    expect(catalog.list().map((p) => p.name)).toContain('txt2img_default');
    expect(catalog.get(undefined)?.name).toBe('txt2img_default');
    expect(catalog.get('nope')).toBeUndefined();
  });

  it("turns sdreforge's flat keys and extensions into settings", async () => {
    const catalog = await loadPresetCatalog(shipped);
    const portrait = catalog.get('txt2img_portrait_xl');
    expect(portrait?.settings).toMatchObject({
      prompt_prefix: 'masterpiece, best quality',
      clip_skip: 2,
      enable_hr: true,
      enable_dynamic_prompts: true,
      adetailer: [{ model: 'face_yolov8n.pt', confidence: 0.35, denoising_strength: 0.35 }],
    });
    const params = mergeParams(portrait?.settings ?? {}, { prompt: 'a knight', steps: 10 }, () => 1);
    expect(params).toMatchObject({
      prompt: 'masterpiece, best quality, a knight, detailed face, soft light',
      steps: 10,
      width: 832,
    });
  });

  it('reports a YAML syntax error with the file and line', () => {
    const result = parsePreset('broken.yaml', 'name: x\ntype: txt2img\nbase_settings:\n  steps: [1,\n');
    expect(result).toMatchObject({ problem: { file: 'broken.yaml' } });
    expect('problem' in result && result.problem.line).toBeGreaterThanOrEqual(4);
  });

  it('reports a bad value with its field and line', () => {
    const text = 'name: bad\ntype: txt2img\nbase_settings:\n  width: 512\n  steps: 900\n';
    const result = parsePreset('bad.yaml', text);
    expect(result).toEqual({
      problem: { file: 'bad.yaml', line: 5, message: expect.stringMatching(/^steps: .*150/) },
    });
  });

  it('leaves a broken file out and loads the others', async () => {
    const { mkdtemp, writeFile, copyFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'presets-'));
    await copyFile(join(shipped, 'txt2img_default.yaml'), join(dir, 'txt2img_default.yaml'));
    await writeFile(join(dir, 'zz_broken.yaml'), 'name: [\n');
    await writeFile(join(dir, 'my.template.yaml'), 'not: a preset\n');
    const catalog = await loadPresetCatalog(dir);
    expect(catalog.list().map((p) => p.name)).toEqual(['txt2img_default']);
    expect(catalog.problems.map((p) => p.file)).toEqual(['zz_broken.yaml']);
  });
});
