import { DynamoDbHostPool } from '../../adapters/dynamodb-host-pool.ts';
import type { PoolSnapshot } from '../../core/pool/host-pool.ts';

/**
 * A DynamoDB pool whose next `racers` reads of the pool all return only once every one of them
 * has read: the asks behind them decide on the same snapshot before any writes, the race that
 * timing alone makes rare.
 */
export class RacingPool extends DynamoDbHostPool {
  private racers = 0;
  private readonly held: Array<() => void> = [];

  race(racers: number): void {
    this.racers = racers;
  }

  override async snapshot(): Promise<PoolSnapshot> {
    const snapshot = await super.snapshot();
    if (this.racers === 0) return snapshot;
    this.racers--;
    if (this.racers === 0) for (const go of this.held.splice(0)) go();
    else await new Promise<void>((go) => this.held.push(go));
    return snapshot;
  }
}
