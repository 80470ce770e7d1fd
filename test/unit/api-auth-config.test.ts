import { describe, expect, it } from 'vitest';
import { ENV, LOCAL_API_CREDENTIALS, loadApiAuthConfig } from '../../lib/config.js';

describe('loadApiAuthConfig (SLEDS_API_AUTH)', () => {
  it('is off by default', () => {
    expect(loadApiAuthConfig({})).toEqual({ mode: 'none' });
    expect(loadApiAuthConfig({ [ENV.apiAuth]: 'none' })).toEqual({ mode: 'none' });
  });

  it('requires SigV4 with the documented local key pair, or the one given', () => {
    expect(loadApiAuthConfig({ [ENV.apiAuth]: 'sigv4' })).toEqual({ mode: 'sigv4', ...LOCAL_API_CREDENTIALS });
    expect(loadApiAuthConfig({ [ENV.apiAuth]: 'sigv4', [ENV.apiAccessKeyId]: 'AKIDX', [ENV.apiSecretAccessKey]: 's' })).toEqual({
      mode: 'sigv4',
      accessKeyId: 'AKIDX',
      secretAccessKey: 's',
    });
  });

  it('refuses an unknown mode, half a key pair, and a key pair without sigv4', () => {
    expect(() => loadApiAuthConfig({ [ENV.apiAuth]: 'iam' })).toThrow('SLEDS_API_AUTH must be "none" or "sigv4", got "iam"');
    expect(() => loadApiAuthConfig({ [ENV.apiAuth]: 'sigv4', [ENV.apiAccessKeyId]: 'AKIDX' })).toThrow(/go together/);
    expect(() => loadApiAuthConfig({ [ENV.apiAccessKeyId]: 'AKIDX', [ENV.apiSecretAccessKey]: 's' })).toThrow(/needs SLEDS_API_AUTH=sigv4/);
  });
});
