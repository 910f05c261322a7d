import type { FinishedLease, HostPool } from '../ports.ts';

/**
 * A runner's leases whose calls are over, not yet given back. The runner's next call takes one to
 * hand over: the pool moves its slot to the new holder in the same write (or releases it), so a
 * finished call costs no separate release. What no call took goes back with releaseAll.
 */
export class LeaseBook {
  private readonly spare: FinishedLease[] = [];
  private readonly pool: Pick<HostPool, 'release'>;

  constructor(pool: Pick<HostPool, 'release'>) {
    this.pool = pool;
  }

  /** A finished lease for a call to hand over, now that call's to hand over or put back. */
  take(): FinishedLease | undefined {
    return this.spare.pop();
  }

  /** A lease whose call is over, or one taken and not handed over after all. */
  put(finished: FinishedLease): void {
    this.spare.push(finished);
  }

  get size(): number {
    return this.spare.length;
  }

  /** Gives every spare lease back to the pool, with what its call measured. */
  async releaseAll(): Promise<void> {
    await Promise.all(this.spare.splice(0).map((s) => this.pool.release(s.lease, s.measured)));
  }
}
