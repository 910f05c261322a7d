import type { RateSample } from '../../core/estimate.ts';
import {
  type HostHealth,
  type HostSpec,
  isHealthy,
  type Lease,
  nextHealth,
} from '../../core/pool/host-pool.ts';
import { type PoolOutage, poolOutage } from '../../core/pool/outage.ts';
import type { JobClaim } from '../../core/pool/waiters.ts';
import type { FinishedLease, HostPool, PoolAsk } from '../../core/ports.ts';

/**
 * A one-host pool that records every lease, so a test can see each one released whatever
 * happened in between, and how many were held at once. `capacity` slots; `free = false` refuses all.
 */
export class RecordingPool implements HostPool {
  readonly hosts: HostSpec[];
  readonly held = new Set<string>();
  readonly measured: Array<RateSample | undefined> = [];
  grants = 0;
  refusals = 0;
  maxHeld = 0;
  free = true;
  /** Grants left before the pool starts refusing; unlimited by default. */
  grantsLeft = Number.POSITIVE_INFINITY;
  /** The host's health as the pool's rules keep it (core/pool/host-pool.ts). */
  health: HostHealth | undefined;
  /** When set, the host rests this long after repeated failures, as the real pool's does. */
  restMs: number | undefined;

  readonly capacity: number;

  constructor(hostId: string, capacity = 1) {
    this.capacity = capacity;
    this.hosts = [{ id: hostId, depth: capacity }];
  }

  /** Leases given back by handing them over to the next call (each one write in DynamoDB). */
  handedOver = 0;

  async acquire(
    ask: PoolAsk,
    _leaseMs?: number,
    done?: FinishedLease,
  ): Promise<Lease | { wait: string; running?: true; restingUntil?: number }> {
    const { holder } = ask;
    const jobId = ask.claim.jobId;
    if (done) {
      this.handedOver++;
      await this.release(done.lease, done.measured);
    }
    if (this.held.has(holder)) return { wait: `${holder} is already running`, running: true };
    if (this.restMs !== undefined && !isHealthy(this.health, Date.now())) {
      this.refusals++;
      return { wait: 'every GPU host is resting', restingUntil: this.health?.unhealthyUntil as number };
    }
    if (!this.free || this.held.size >= this.capacity || this.grantsLeft <= 0) {
      this.refusals++;
      return { wait: 'busy' };
    }
    this.grants++;
    this.grantsLeft--;
    this.held.add(holder);
    this.maxHeld = Math.max(this.maxHeld, this.held.size);
    return {
      hostId: this.hosts[0]?.id as string,
      slot: this.grants % this.capacity,
      holder,
      jobId,
      until: 0,
    };
  }

  async release(lease: Lease, measured?: RateSample) {
    this.held.delete(lease.holder);
    this.measured.push(measured);
  }

  async heldElsewhere() {
    return false;
  }

  async callsOf(jobId: string) {
    return [...this.held].filter((holder) => holder.startsWith(`${jobId}#`)).length;
  }

  async holdersOf(jobId: string) {
    return new Set([...this.held].filter((holder) => holder.startsWith(`${jobId}#`)));
  }

  async isHeld(holder: string) {
    return this.held.has(holder);
  }

  async reportHealth(lease: Lease, ok: boolean, error?: string) {
    const now = Date.now();
    this.health = nextHealth(this.health, lease.hostId, ok, now, this.restMs, error);
    return this.restMs !== undefined && !isHealthy(this.health, now);
  }

  async outage(): Promise<PoolOutage | undefined> {
    return poolOutage(this.hosts, this.health ? [this.health] : []);
  }

  async resting() {
    return [];
  }

  async hostRates() {
    return [];
  }

  async waitingRunners() {
    return 0;
  }

  async dropWaiters() {}

  /** Runners that left the queue, as job/runner. */
  readonly left: string[] = [];

  async leaveQueue(claim: JobClaim, runner: number) {
    this.left.push(`${claim.jobId}/${runner}`);
  }

  async registerWaiter() {}

  async sweep() {}
}
