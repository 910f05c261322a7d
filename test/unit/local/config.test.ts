import { describe, expect, it } from 'vitest';
import { loadLocalConfig } from '../../../local/config.ts';

describe('SDBATCH_HOST_REQUEST_LIMIT_SECONDS', () => {
  it('is one value for every host or one per SD_WEBUI_URL entry', () => {
    const urls = 'http://127.0.0.1:7860,http://127.0.0.1:7861';
    expect(
      loadLocalConfig({ SD_WEBUI_URL: urls, SDBATCH_HOST_REQUEST_LIMIT_SECONDS: '100' })
        .SDBATCH_HOST_REQUEST_LIMIT_SECONDS,
    ).toEqual([100]);
    expect(
      loadLocalConfig({ SD_WEBUI_URL: urls, SDBATCH_HOST_REQUEST_LIMIT_SECONDS: '100,0' })
        .SDBATCH_HOST_REQUEST_LIMIT_SECONDS,
    ).toEqual([100, 0]);
    expect(loadLocalConfig({}).SDBATCH_HOST_REQUEST_LIMIT_SECONDS).toBeUndefined();
  });

  it('counts the simulated hosts when no SD WebUI is named, and names the variable when it does not fit', () => {
    expect(() =>
      loadLocalConfig({ SDBATCH_SIM_HOSTS: '3', SDBATCH_HOST_REQUEST_LIMIT_SECONDS: '100,50' }),
    ).toThrow(
      'SDBATCH_HOST_REQUEST_LIMIT_SECONDS: give one limit for every host or one per SD WebUI URL (3), in the same order',
    );
    expect(() => loadLocalConfig({ SDBATCH_HOST_REQUEST_LIMIT_SECONDS: 'a lot' })).toThrow(
      'SDBATCH_HOST_REQUEST_LIMIT_SECONDS.0: each entry must be a number of seconds (0 = no limit)',
    );
  });
});

describe('SDBATCH_SIM_HOSTS', () => {
  it('takes up to 64 simulated hosts (the bench scale scenarios run 64)', () => {
    expect(loadLocalConfig({ SDBATCH_SIM_HOSTS: '64' }).SDBATCH_SIM_HOSTS).toBe(64);
    expect(() => loadLocalConfig({ SDBATCH_SIM_HOSTS: '65' })).toThrow('SDBATCH_SIM_HOSTS');
  });
});
