import { describeSdWebUiContract } from '../contract/sd-webui-contract.ts';

/**
 * The SD WebUI contract against a real server: `SD_WEBUI_URL=http://127.0.0.1:7861 npm run test:sd-webui`
 * (see README, "Testing against a real SD WebUI"). SD_WEBUI_STEP_SECONDS tells how long one 64x64
 * step takes there (default 1, a CPU).
 */
const url = process.env.SD_WEBUI_URL?.trim().replace(/\/+$/, '');
if (!url) {
  throw new Error(
    'SD_WEBUI_URL is not set: this suite runs against a real SD WebUI. Start one (../shared/sd-webui-kit/up.sh) and run ' +
      'SD_WEBUI_URL=http://127.0.0.1:7861 npm run test:sd-webui',
  );
}
const stepSeconds = Number(process.env.SD_WEBUI_STEP_SECONDS ?? '1');
if (!(stepSeconds > 0))
  throw new Error(`SD_WEBUI_STEP_SECONDS must be a number of seconds > 0, got ${stepSeconds}`);

describeSdWebUiContract(`real server at ${url}`, () => ({ url, stepSeconds }));
