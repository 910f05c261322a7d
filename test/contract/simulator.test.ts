import { afterAll, beforeAll } from 'vitest';
import { type Simulator, startSimulator } from '../../local/simulator/server.ts';
import { describeSdWebUiContract } from './sd-webui-contract.ts';

/**
 * The SD WebUI contract against the simulator, once as itself (reForge-like, with schedulers) and
 * once standing in for A1111 1.8. 80 ms steps keep the suite quick while a poll every 10 ms still
 * sees each step, and an interrupt lands well before an 8-step call could end.
 */
const STEP_MS = 80;

for (const flavour of ['reforge', 'a1111-1.8'] as const) {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ stepMs: STEP_MS, flavour, name: `contract-${flavour}` });
  });
  afterAll(() => sim.close());
  describeSdWebUiContract(`simulator (${flavour})`, () => ({ url: sim.url, stepSeconds: STEP_MS / 1000 }));
}
