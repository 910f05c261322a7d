import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ControlImageFetchError } from '../core/errors.ts';
import type { ImageFetcher } from '../core/ports.ts';

export interface FetchPolicy {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /**
   * host:port pairs exempt from the https and public-address rules, e.g. "127.0.0.1:4568" for the
   * embedded stack's own tests. Empty in production.
   */
  allowHosts: string[];
  /** Tries of a fetch that failed in a way that may pass (time-out, 5xx, reset), and the first back-off. */
  tries: number;
  retryDelayMs: number;
}

export const DEFAULT_FETCH_POLICY: FetchPolicy = {
  maxBytes: 10 * 1024 * 1024,
  timeoutMs: 15_000,
  maxRedirects: 3,
  allowHosts: [],
  tries: 3,
  retryDelayMs: 500,
};

/** Loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved ranges. */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** A name that does not exist will not exist on the next try; a reset or a time-out may pass. */
function asFetchError(error: unknown, url: string): ControlImageFetchError {
  if (error instanceof ControlImageFetchError) return error;
  const code = (error as { code?: string }).code;
  const reason = (error as Error).message ?? String(error);
  return new ControlImageFetchError(`control image ${url}: ${reason}`, code !== 'ENOTFOUND');
}

const lookupAll = (hostname: string) =>
  new Promise<Array<{ address: string }>>((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPublicAddress(mapped[1] as string);
  const family = isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Fetches control images from callers' URLs without letting them reach inside the network:
 * https only, every resolved address checked at connect time (so DNS rebinding and redirects
 * cannot slip past), a size cap and a time-out.
 */
export class GuardedImageFetcher implements ImageFetcher {
  private readonly policy: FetchPolicy;

  constructor(policy: Partial<FetchPolicy> = {}) {
    this.policy = { ...DEFAULT_FETCH_POLICY, ...policy };
  }

  async fetch(url: string): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce(url);
      } catch (error) {
        const failure = asFetchError(error, url);
        if (!failure.transient || attempt >= this.policy.tries) throw failure;
        await new Promise((resolve) => setTimeout(resolve, this.policy.retryDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  private async fetchOnce(url: string): Promise<Uint8Array> {
    let current = new URL(url);
    for (let hop = 0; hop <= this.policy.maxRedirects; hop++) {
      const response = await this.get(current);
      if ('redirect' in response) {
        current = new URL(response.redirect, current);
        continue;
      }
      return response.body;
    }
    throw new ControlImageFetchError(
      `control image ${url}: more than ${this.policy.maxRedirects} redirects`,
      false,
    );
  }

  async check(url: string): Promise<void> {
    const parsed = new URL(url);
    if (this.policy.allowHosts.includes(parsed.host)) return;
    if (parsed.protocol !== 'https:') throw new Error('only https URLs are fetched');
    // A certificate rarely names an address, and an address names no one: a host name is required.
    if (isIP(parsed.hostname.replace(/^\[|\]$/g, ''))) throw new Error('an IP address; give a host name');
    let addresses: Array<{ address: string }>;
    try {
      addresses = await lookupAll(parsed.hostname);
    } catch {
      throw new Error(`${parsed.hostname} does not resolve`);
    }
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) throw new Error(`${parsed.hostname} resolves to a non-public address (${bad.address})`);
  }

  private get(url: URL): Promise<{ body: Uint8Array } | { redirect: string }> {
    const allowed = this.policy.allowHosts.includes(url.host);
    if (url.protocol !== 'https:' && !(allowed && url.protocol === 'http:')) {
      return Promise.reject(
        new ControlImageFetchError(`control image ${url.origin}: only https URLs are fetched`, false),
      );
    }
    const lookup: LookupFunction = (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0);
        const bad = addresses.find((a) => !isPublicAddress(a.address));
        if (bad && !allowed) {
          return callback(
            new ControlImageFetchError(
              `${hostname} resolves to a non-public address (${bad.address})`,
              false,
            ),
            '',
            0,
          );
        }
        const first = addresses[0];
        if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
        if (options.all)
          return (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses);
        callback(null, first.address, first.family);
      });
    };
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) && !isPublicAddress(literal) && !allowed) {
      return Promise.reject(
        new ControlImageFetchError(`control image ${url.origin}: non-public address`, false),
      );
    }
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.get(url, { lookup, timeout: this.policy.timeoutMs }, (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400 && response.headers.location) {
          response.resume();
          return resolve({ redirect: response.headers.location });
        }
        if (status !== 200) {
          response.resume();
          // A 5xx, a time-out or throttling may pass; any other answer will be the same next time.
          const transient = status >= 500 || status === 408 || status === 429;
          return reject(
            new ControlImageFetchError(
              `control image ${url.origin}${url.pathname}: HTTP ${status}`,
              transient,
            ),
          );
        }
        const declared = Number(response.headers['content-length'] ?? 0);
        if (declared > this.policy.maxBytes) {
          response.destroy();
          return reject(
            new ControlImageFetchError(
              `control image is ${declared} bytes; the cap is ${this.policy.maxBytes}`,
              false,
            ),
          );
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.policy.maxBytes) {
            response.destroy();
            reject(
              new ControlImageFetchError(
                `control image exceeds the cap of ${this.policy.maxBytes} bytes`,
                false,
              ),
            );
          } else chunks.push(chunk);
        });
        response.on('end', () => resolve({ body: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
      request.on('timeout', () =>
        request.destroy(new Error(`control image: no answer in ${this.policy.timeoutMs} ms`)),
      );
      request.on('error', reject);
    });
  }
}
