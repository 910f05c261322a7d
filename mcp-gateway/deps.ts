import type { Calibration } from '../core/estimate.ts';
import type { ImageStore, JobStore, Orchestrator } from '../core/ports.ts';
import type { PresetCatalog } from '../core/presets/catalog.ts';

export interface GatewaySettings {
  /** Iterations of one job in flight at once (GPU hosts x depth). */
  concurrency: number;
  /** GPU hosts working in parallel, for the a-priori estimate. */
  hosts: number;
  retentionSeconds: number;
  calibration: Calibration;
  urlTtlSeconds: number;
}

/** What the tools need; the Lambda entry and the embedded stack each build one. */
export interface GatewayDeps {
  jobs: JobStore;
  images: ImageStore;
  orchestrator: Orchestrator;
  presets: PresetCatalog;
  now: () => Date;
  settings: GatewaySettings;
}

/** The authenticated caller; every job belongs to one. */
export interface Caller {
  id: string;
}

export interface ToolContext {
  deps: GatewayDeps;
  caller: Caller;
}
