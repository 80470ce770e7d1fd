import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROUTES, findRoute, matchResource } from '../../lib/api/routes.js';
import { HANDLER_MODULES } from '../../lib/local/handler-registry.js';

describe('routes', () => {
  it('matches templates and decodes parameters', () => {
    expect(matchResource('/volumes/{volumeId}', '/volumes/vol-1')).toEqual({ volumeId: 'vol-1' });
    expect(matchResource('/volumes/{volumeId}', '/volumes/a%20b')).toEqual({ volumeId: 'a b' });
    expect(matchResource('/volumes/{volumeId}', '/volumes')).toBeUndefined();
    expect(matchResource('/volumes', '/volumes/')).toEqual({});
    expect(matchResource('/volumes/{volumeId}', '/volumes/%E0%A4%A')).toBeUndefined();
  });

  it('tells a wrong method from an unknown path', () => {
    expect(findRoute('DELETE', '/volumes')).toEqual({ allowed: ['POST', 'GET'] });
    expect(findRoute('GET', '/nowhere')).toEqual({ allowed: [] });
    const match = findRoute('GET', '/volumes/vol-1');
    expect('route' in match && match.route.handler).toBe('get-volume');
  });

  it('has one handler file and one registry entry per route, and no extra ones', () => {
    const handlers = new Set(ROUTES.map((route) => route.handler));
    expect(new Set(Object.keys(HANDLER_MODULES))).toEqual(handlers);
    for (const handler of handlers) expect(existsSync(`functions/${handler}.ts`)).toBe(true);
    const keys = ROUTES.map((route) => `${route.method} ${route.resource}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
