import { randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Job ids read like `job_20261124_k3x9q2m7ab`: sortable by day, unguessable in the rest. */
export function newJobId(now: Date = new Date(), random: Uint8Array = randomBytes(10)): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  let suffix = '';
  for (const byte of random) suffix += BASE32[byte & 31];
  return `job_${day}_${suffix}`;
}

export const JOB_ID_PATTERN = /^job_\d{8}_[a-z2-7]{10}$/;
