import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuardedImageFetcher, isPublicAddress } from '../../adapters/guarded-fetcher.ts';

let server: Server;
let origin: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/image.png') return res.end(Buffer.alloc(1000, 7));
    if (req.url === '/big.png') return res.end(Buffer.alloc(50_000, 1));
    if (req.url === '/to-localhost') {
      res.writeHead(302, {
        location: `http://localhost:${(server.address() as AddressInfo).port}/image.png`,
      });
      return res.end();
    }
    if (req.url === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      return res.end();
    }
    if (req.url === '/slow') return setTimeout(() => res.end('late'), 2000);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('which addresses are public', () => {
  it.each([
    ['8.8.8.8', true],
    ['2606:4700:4700::1111', true],
    ['127.0.0.1', false],
    ['169.254.169.254', false],
    ['10.1.2.3', false],
    ['172.20.0.1', false],
    ['192.168.1.1', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['::1', false],
    ['fd00::1', false],
    ['fe80::1', false],
    ['::ffff:127.0.0.1', false],
    ['not-an-ip', false],
  ])('%s → %s', (address, expected) => expect(isPublicAddress(address)).toBe(expected));
});

describe('GuardedImageFetcher', () => {
  const host = () => new URL(origin).host;

  it('refuses plain http, loopback, metadata and private literals without connecting', async () => {
    const fetcher = new GuardedImageFetcher();
    const before = hits;
    await expect(fetcher.fetch(`${origin}/image.png`)).rejects.toThrow(/only https/);
    for (const url of [
      'https://127.0.0.1/x.png',
      'https://169.254.169.254/latest/meta-data/',
      'https://10.0.0.8/x.png',
      'https://[::1]/x.png',
    ]) {
      await expect(fetcher.fetch(url)).rejects.toThrow(/non-public/);
    }
    expect(hits).toBe(before);
  });

  it('refuses a host name that resolves to a private address', async () => {
    await expect(new GuardedImageFetcher().fetch('https://localhost/x.png')).rejects.toThrow(
      /non-public address/,
    );
  });

  it('fetches from an explicitly allowed host, within the size cap', async () => {
    const fetcher = new GuardedImageFetcher({ allowHosts: [host()], maxBytes: 10_000 });
    expect((await fetcher.fetch(`${origin}/image.png`)).length).toBe(1000);
    await expect(fetcher.fetch(`${origin}/big.png`)).rejects.toThrow(/cap/);
  });

  it('checks every redirect hop again', async () => {
    const fetcher = new GuardedImageFetcher({ allowHosts: [host()] });
    await expect(fetcher.fetch(`${origin}/to-localhost`)).rejects.toThrow(/only https|non-public/);
    await expect(fetcher.fetch(`${origin}/to-metadata`)).rejects.toThrow(/only https|non-public/);
  });

  it('gives up after the time-out', async () => {
    const fetcher = new GuardedImageFetcher({ allowHosts: [host()], timeoutMs: 200 });
    await expect(fetcher.fetch(`${origin}/slow`)).rejects.toThrow(/no answer/);
  });
});
