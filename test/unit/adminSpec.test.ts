// admin_api.yaml is complete and coherent: every route is documented, every operation protected, examples valid.
import type { Router } from 'express';
import { adminApiRouter } from '../../api/admin';
import { adminSessionRouter } from '../../api/adminSession';
import { AdminAccess } from '../../src/admin/access';
import { AdminService } from '../../src/admin/service';
import { createLogger } from '../../src/server/logger';
import { compileSpecSchema } from '../../src/webhook/specSchema';
import type { Store } from '../../src/store/types';
import { adminSpec, resolve, specOperations } from '../support/adminSpec';
import { MemoryAdminSessions } from '../support/memoryAdminSessions';
import { testConfig } from '../support/testApp';

type Json = Record<string, unknown>;

/** METHOD /path of every route an Express router declares, in OpenAPI's {param} syntax. */
function declaredRoutes(router: Router): string[] {
  return router.stack.flatMap((layer) => {
    const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
    if (!route) return [];
    return Object.keys(route.methods)
      .filter((method) => method !== '_all')
      .map((method) => `${method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
  });
}

describe('admin_api.yaml', () => {
  const operations = specOperations();

  it('documents exactly the routes the admin routers serve', () => {
    const config = testConfig();
    const access = new AdminAccess(config.admin, config.sessionSecret, {
      sessions: new MemoryAdminSessions(),
      secureCookies: false,
    });
    const logger = createLogger('silent');
    const served = [
      ...declaredRoutes(adminApiRouter({ access, logger, service: new AdminService({} as Store) })),
      ...declaredRoutes(adminSessionRouter({ access, logger })),
    ].sort();
    expect(served.length).toBeGreaterThan(15);
    expect(operations.map((op) => `${op.method} ${op.path}`).sort()).toEqual(served);
  });

  it('protects every operation but sign-in, and documents its 401', () => {
    expect(operations.filter((op) => op.public).map((op) => `${op.method} ${op.path}`)).toEqual([
      'post /api/session',
    ]);
    for (const op of operations) {
      expect([op.method, op.path, Object.keys(op.operation.responses as Json)]).toEqual([
        op.method,
        op.path,
        expect.arrayContaining(['401']),
      ]);
    }
    expect(adminSpec.security).toEqual([{ bearer: [] }, { session: [] }]);
  });

  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref') refs.push(value as string);
          else walk(value);
        }
      }
    };
    walk(adminSpec);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs)
      expect([ref, resolve({ $ref: ref }) !== undefined]).toEqual([ref, true]);
  });

  it('compiles every schema strictly (no misspelt or stray keywords)', () => {
    const schemas = adminSpec.components.schemas;
    expect(Object.keys(schemas).length).toBeGreaterThan(10);
    for (const name of Object.keys(schemas)) {
      expect(() =>
        compileSpecSchema({ $ref: `#/components/schemas/${name}` }, schemas),
      ).not.toThrow();
    }
  });

  it('has JSON examples that match their schemas', () => {
    let checked = 0;
    for (const op of operations) {
      const bodies = [
        op.operation.requestBody,
        ...Object.values(op.operation.responses as Json),
      ].map((node) => resolve(node)?.content as Json | undefined);
      for (const content of bodies) {
        const media = content?.['application/json'] as Json | undefined;
        for (const example of Object.values((media?.examples ?? {}) as Json)) {
          const validate = compileSpecSchema(resolve(media?.schema), adminSpec.components.schemas);
          expect(validate((example as Json).value)).toBe(true);
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});
