import { readSimulatorConfig, type SimulatorConfig } from './config.ts';
import { faultsFromEnv } from './faults.ts';
import { startSimulator } from './server.ts';

/** `npm run sim`: one simulated SD WebUI on SDBATCH_SIM_HOST:SDBATCH_SIM_PORT until SIGINT/SIGTERM. */

let config: SimulatorConfig | undefined;
let faults: ReturnType<typeof faultsFromEnv> = {};
try {
  config = readSimulatorConfig(process.env);
  faults = faultsFromEnv(process.env.SDBATCH_SIM_FAULTS);
} catch (e) {
  console.error(`sd-webui simulator: ${(e as Error).message}`);
  process.exitCode = 2;
}

if (config) {
  const sim = await startSimulator(config);
  sim.setFaults(faults);
  console.log(`SD WebUI simulator listening on ${sim.url} (${config.flavour}, step ${config.stepMs} ms)`);
  const stop = (signal: string) => {
    console.log(`${signal}: stopping`);
    void sim.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
