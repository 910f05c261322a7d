import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS, type GatewayDeps } from '../../../mcp-gateway/deps.ts';
import { mcpEndpoint } from '../../../mcp-gateway/mcp-endpoint.ts';

// Building the endpoint touches none of the tools' dependencies.
const deps = { settings: { limits: DEFAULT_LIMITS }, now: () => new Date() } as unknown as GatewayDeps;

afterEach(() => vi.restoreAllMocks());

describe('the MCP endpoint', () => {
  it('starts without the SDK warning about JSON responses, which are chosen on purpose', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    mcpEndpoint(deps);
    expect(warn).not.toHaveBeenCalled();
  });

  it('gives console.warn back once built, so later warnings are printed', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    mcpEndpoint(deps);
    console.warn('a later warning');
    expect(warn).toHaveBeenCalledWith('a later warning');
  });
});
