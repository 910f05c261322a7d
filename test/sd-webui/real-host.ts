/** The real SD WebUI these tests run against (`npm run test:sd-webui`), and direct calls to it. */
import { getProgress, send } from '../contract/sd-webui-http.ts';

export function realSdWebUiUrl(): string {
  const url = process.env.SD_WEBUI_URL;
  if (!url) {
    throw new Error(
      'SD_WEBUI_URL is not set: bring up a real SD WebUI (../shared/sd-webui-kit/up.sh) and run ' +
        'SD_WEBUI_URL=http://127.0.0.1:7861 npm run test:sd-webui',
    );
  }
  return url.replace(/\/+$/, '');
}

export interface HostState {
  at: number;
  jobCount: number;
  jobTimestamp: string;
  step: number;
  steps: number;
  interrupted: boolean;
}

export async function hostState(url: string): Promise<HostState> {
  const { state } = await getProgress(url);
  return {
    at: Date.now(),
    jobCount: state.job_count,
    jobTimestamp: state.job_timestamp,
    step: state.sampling_step,
    steps: state.sampling_steps,
    interrupted: state.interrupted,
  };
}

/** Polls the host until `until` holds for a state, keeping every state seen; throws after timeoutMs. */
export async function watchHost(
  url: string,
  until: (state: HostState, seen: HostState[]) => boolean,
  { pollMs = 100, timeoutMs = 120_000 } = {},
): Promise<HostState[]> {
  const seen: HostState[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await hostState(url);
    seen.push(state);
    if (until(state, seen)) return seen;
    if (Date.now() > deadline) throw new Error(`the host did not reach the state in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export async function directTxt2img(
  url: string,
  body: Record<string, unknown>,
): Promise<{ images: Buffer[]; info: { all_seeds: number[]; infotexts: string[]; job_timestamp: string } }> {
  const answer = await send(url, { method: 'POST', path: '/sdapi/v1/txt2img', body });
  if (answer.status !== 200)
    throw new Error(`txt2img answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const { images, info } = answer.body as { images: string[]; info: string };
  return { images: images.map((b64) => Buffer.from(b64, 'base64')), info: JSON.parse(info) };
}
