import type { Calibration, HostRate } from '../core/estimate.ts';
import type { HostNamesRead } from '../core/host-names.ts';
import type { Metrics } from '../core/metrics.ts';
import type { ContactSheetRenderer, ImageStore, JobStore, Orchestrator } from '../core/ports.ts';
import type { PresetCatalog } from '../core/presets/catalog.ts';
import { DEFAULT_SETTINGS } from '../core/settings.ts';

export interface GatewaySettings {
  /** SD WebUI calls of one job in flight at once (GPU hosts x depth); runnerCount turns it into generate tasks. */
  concurrency: number;
  /** GPU hosts working in parallel, for the a-priori estimate. */
  hosts: number;
  retentionSeconds: number;
  calibration: Calibration;
  urlTtlSeconds: number;
  limits: GatewayLimits;
  /** false where the workers have no route to the internet (VPC mode without NAT); absent = they have. */
  workersReachInternet?: boolean;
}

/** Caps a caller meets with a clear error; nothing is created past one. */
export interface GatewayLimits {
  maxImagesPerJob: number;
  maxActiveJobsPerCaller: number;
  maxPromptChars: number;
  maxRequestBytes: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxImagesPerJob: DEFAULT_SETTINGS.maxImagesPerJob,
  maxActiveJobsPerCaller: DEFAULT_SETTINGS.maxActiveJobs,
  maxPromptChars: DEFAULT_SETTINGS.maxPromptChars,
  maxRequestBytes: DEFAULT_SETTINGS.maxRequestBytes,
};

/** What the tools need; the Lambda entry and the embedded stack each build one. */
export interface GatewayDeps {
  jobs: JobStore;
  images: ImageStore;
  orchestrator: Orchestrator;
  presets: PresetCatalog;
  /** Draws contact sheets on demand (result with contact_sheet "refresh"); absent = not offered. */
  renderContactSheet?: ContactSheetRenderer;
  now: () => Date;
  settings: GatewaySettings;
  /** The GPU hosts' measured rates (the pool's records), read now; absent = estimates use the calibration only. */
  hostRates?: () => Promise<HostRate[]>;
  /**
   * The same for status polls: one reading up to a couple of seconds old, shared. A start reads
   * fresh, as its estimate is kept with the job. Absent = hostRates.
   */
  recentHostRates?: () => Promise<HostRate[]>;
  /** An image as a JPEG of at most maxBytes and maxSide pixels a side (the preview tool); absent = no previews. */
  shrinkImage?: (
    bytes: Uint8Array,
    maxBytes: number,
    maxSide?: number,
  ) => Promise<{ jpeg: Buffer; width: number; height: number }>;
  /** Refuses a control image URL the workers could never fetch (see ImageFetcher.check). */
  checkImageUrl?: (url: string) => Promise<void>;
  /** The GPU hosts' lists of names as workers last read them; absent = a start is not checked against them. */
  hostNames?: () => Promise<HostNamesRead[]>;
  /** The job's SD WebUI calls in flight now (the pool's leases); absent = not known. */
  callsInFlight?: (jobId: string) => Promise<number>;
  /** Where a start is counted (core/metrics.ts); absent = nowhere. */
  metrics?: Metrics;
}

/** The authenticated caller; every job belongs to one. */
export interface Caller {
  id: string;
  /** The deployment's bootstrap token: may manage named tokens. */
  admin?: boolean;
}

export interface ToolContext {
  deps: GatewayDeps;
  caller: Caller;
}
